"""Lazy vs forced evaluation (workloads/lazy_eval): the seed's experiment and the size sweep."""

import pytest

from workloads import lazy_eval


@pytest.mark.workload("lazy_eval")
@pytest.mark.parametrize("variant", lazy_eval.VARIANTS)
def test_lazy_eval(bench, variant):
    bench.run(lazy_eval.WORKLOAD, variant)
