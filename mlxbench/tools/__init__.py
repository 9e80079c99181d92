"""Maintainer commands: calibrating the gate and `mlxbench ab`, the harness's overhead, a deliberate slowdown.

Each runs as `python -m mlxbench.tools.<name>` and, as before the move, `python -m mlxbench.<name>`
(`-p mlxbench.slowdown` too): the old paths are kept as one-line modules at the top level.
"""
