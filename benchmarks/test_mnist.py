"""MNIST MLP (workloads/mnist): seconds per epoch, test accuracy and time-to-accuracy per backend."""

import pytest

from workloads import mnist


@pytest.mark.workload("mnist_mlp")
@pytest.mark.parametrize("variant", mnist.VARIANTS)
def test_mnist_mlp(bench, variant):
    bench.run(mnist.WORKLOAD, variant)
