"""The old path of `mlxbench.tools.calibrate_ab`: `python -m mlxbench.calibrate_ab` runs it as before."""

from mlxbench.tools.calibrate_ab import *  # noqa: F403
from mlxbench.tools.calibrate_ab import main

if __name__ == "__main__":
    raise SystemExit(main())
