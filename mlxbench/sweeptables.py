"""The old path of `mlxbench.reports.sweeptables`: `python -m mlxbench.sweeptables RUN` runs it as before."""

from mlxbench.reports.sweeptables import *  # noqa: F403
from mlxbench.reports.sweeptables import main

if __name__ == "__main__":
    raise SystemExit(main())
