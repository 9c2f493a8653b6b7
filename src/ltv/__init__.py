"""ltv: long-term customer value analytics. Plain functions that the dbt Python models call."""

import os

# Waiting OpenMP threads sleep instead of spinning. Read once, when the OpenMP runtime loads (the first
# scikit-learn import), so it is set here, before any ltv module imports scikit-learn: in every dbt
# Python model, the CLI and the tests alike. On a 2-core machine running two models (or two test
# workers) side by side, spinning threads took the core the other needed: HistGradientBoosting with
# two spinning threads was slower than with one; with sleeping ones it is 1.8x faster
# (ltv.user_value.constants.BOOSTING_THREADS). How threads wait changes no result. An
# OMP_WAIT_POLICY set by the caller is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
