"""The repository's `workloads/` folder installs as the package `mlxbench_workloads`, so that installing
mlxbench never claims the generic import name `workloads` (a repository using the suite may have its own).
Everything else is in pyproject.toml."""

from setuptools import find_packages, setup

suite = find_packages(include=["mlxbench", "mlxbench.*"])
workloads = ["mlxbench_workloads" + name.removeprefix("workloads") for name in find_packages(include=["workloads*"])]
setup(packages=suite + workloads, package_dir={"mlxbench_workloads": "workloads"})
