"""airspeed velocity benchmarks of the vecstudy kernels (see asv.conf.json)."""
