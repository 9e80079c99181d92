"""Linear regression SGD (workloads/linreg) on every backend, eager and compiled."""

import pytest

from workloads import linreg


@pytest.mark.workload("linreg")
@pytest.mark.parametrize("variant", linreg.VARIANTS)
def test_linreg_sgd(bench, variant):
    bench.run(linreg.WORKLOAD, variant)
