"""MLX is lazy: ops build a graph; `mx.eval` computes it."""

import mlx.core as mx


def execution(backend) -> str:
    return "lazy"


def forcer(backend):
    return mx.eval  # the seed's force; work on other streams is not involved here
