"""mlxbench: the same ML workloads on MLX, NumPy and PyTorch, measured honestly.

`mlxbench` is *how* we measure (backends, registry, pytest plugin, gates, baselines, reports);
the sibling package `workloads` is *what* we measure.
"""

__version__ = "0.1.0"
