"""The old path of `mlxbench.tools.calibrate`: `python -m mlxbench.calibrate` runs it as before."""

from mlxbench.tools.calibrate import *  # noqa: F403
from mlxbench.tools.calibrate import main

if __name__ == "__main__":
    raise SystemExit(main())
