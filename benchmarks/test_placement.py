"""Stream / device placement (workloads/placement): d1 is the backend's device, d2 the variant's."""

import pytest

from workloads import placement


@pytest.mark.workload("placement")
@pytest.mark.parametrize("variant", placement.VARIANTS)
def test_placement(bench, variant):
    bench.run(placement.WORKLOAD, variant)
