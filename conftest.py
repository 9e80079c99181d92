"""Loads the mlxbench pytest plugin for this checkout, so `pytest benchmarks` needs no install."""

pytest_plugins = ["mlxbench.plugin"]
