"""Shared test settings.

Hypothesis: no deadline (the loops implementation is slow on purpose and the
machines are shared), and derandomized so that CI is reproducible; set
HYPOTHESIS_PROFILE=explore locally for fresh random examples.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile("ci", deadline=None, derandomize=True, max_examples=40,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("explore", deadline=None, max_examples=300,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
