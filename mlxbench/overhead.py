"""The old path of `mlxbench.tools.overhead`: `python -m mlxbench.overhead` runs it as before."""

from mlxbench.tools.overhead import *  # noqa: F403
from mlxbench.tools.overhead import main

if __name__ == "__main__":
    raise SystemExit(main())
