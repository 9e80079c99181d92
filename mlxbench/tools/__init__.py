"""Maintainer commands: calibrating the gate and `mlxbench ab`, the harness's overhead, a deliberate slowdown.

Each runs as `python -m mlxbench.tools.<name>` (the slowdown as `-p mlxbench.tools.slowdown`).
"""
