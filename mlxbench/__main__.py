"""`python -m mlxbench`: the same as the `mlxbench` command."""

import sys

from mlxbench.cli import main

sys.exit(main())
