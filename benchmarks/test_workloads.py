"""Every registered workload (ours and third-party ones) x variant x selected backend.

Test ids read `test_workload[linreg-mlx-cpu-seed-eager]`: workload, backend, profile, variant.
The plugin parametrizes `mlxbench_case` from the registry, so no workload is listed here.
"""


def test_workload(bench, mlxbench_registry, mlxbench_case):
    name, variant = mlxbench_case
    bench.run(mlxbench_registry.workload(name), variant)
