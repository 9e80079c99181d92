"""Workloads that third-party packages register under the `mlxbench.workloads` entry point group."""


def test_extension_workload(bench, mlxbench_registry, extension_workload):
    name, variant = extension_workload
    bench.run(mlxbench_registry.workload(name), variant)
