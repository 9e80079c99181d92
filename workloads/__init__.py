"""What we measure: one subpackage per workload (spec, data, metrics) with one impl_<framework>.py each."""
