"""Customer-value models: how much will each customer spend over the next `horizon_days`?

The dbt Python models call `fit_user_value` / `score_user_value` (or `predict_user_value`, both in
one) with two feature tables built in SQL, one row per user: `features_at_cutoff` (features as of a
past cut-off date plus the label `future_net_spend`, the net spend in the horizon after the
cut-off) and `features_latest` (the same features as of the latest data date, label null). A model
is fitted on a deterministic 80 % of the labelled users, judged on the other 20 %, and then scores
every user of `features_latest`.

The versions, kept side by side so their reports can be compared, one module each:

* v1 (linear.py) — the published method, unchanged: a linear regression of future spend on recency
  (`activity`), `frequency` and `amount`. Its predictions can be negative; they are deliberately not
  clipped, so the published numbers can be reproduced.
* v2 (probabilistic.py over btyd.py) — BG/NBD (Fader, Hardie & Lee 2005) for the number of repeat
  purchase days plus Gamma-Gamma (Fader, Hardie & Lee 2005b) for the spend per purchase day, both
  fitted by maximum likelihood.
* v3 (boosting.py) — gradient-boosted trees (Poisson loss) on the rich behavioural features plus
  v2's outputs, averaged with v2's own prediction (an equal-weight ensemble). v2 is fitted on the
  same training users, so the dbt model hands v3 v2's stored fit (fit_user_value's v2_fit) rather
  than fitting BG/NBD and Gamma-Gamma again.
* v4 (tuned.py over tuning.py and choice.py) — the same ingredients tuned per shop on a validation
  split carved out of the training period (features as of `validation_cutoff_date`, one horizon
  before the cut-off); the tuned trees, v3's recipe and the plain RFM configuration, each with its
  blends with v2, then compete on out-of-fold predictions of the cut-off training users, v3's
  recipe kept unless another is clearly better. With too few spenders to tune or choose on, v4
  falls back to the plain RFM configuration and says why; it never skips for that.

baseline.py holds the plain gradient-boosting model on RFM features that v4 is compared with (a
registry row, never served); comparison.py measures the versions over many holdout splits.
Shared machinery: btyd_objectives.py gives the BG/NBD and Gamma-Gamma fits exact gradients;
forest.py walks the boosted trees on their binned features (scoring, and the explanations of
explanations.py and tree_occlusion.py); stored_split.py packs a fit's per-user split for the registry.

The lower-level BG/NBD and Gamma-Gamma functions are public and unit-free: they work in whatever time
unit the caller uses, as long as it is the same for x, t_x, T and the horizon. The versions work in
weeks, the unit of the papers, because it keeps the fitted parameters in a comfortable range.
"""

from ltv.user_value.btyd import (
    BGNBDParameters,
    GammaGammaParameters,
    bgnbd_conditional_expected_purchases,
    bgnbd_log_likelihood,
    bgnbd_probability_alive,
    fit_bgnbd,
    fit_gamma_gamma,
    gamma_gamma_expected_spend,
    gamma_gamma_log_likelihood,
    simulate_bgnbd,
)
from ltv.user_value.constants import (
    COMMON_OUTPUT_COLUMNS,
    DAYS_PER_WEEK,
    EXPLANATION_COLUMNS,
    LABEL_COLUMN,
    MIN_GAMMA_GAMMA_USERS,
    MODEL_NAME,
    REQUIRED_COLUMNS,
    SPLIT_VALUE_COLUMNS,
    SUPPORTED_VERSIONS,
    V1_FEATURES,
    V2_OUTPUT_COLUMNS,
    V3_BASE_FEATURES,
    V3_FEATURES,
    V3_HYPERPARAMETERS,
    V3_TREE_WEIGHT,
    VERSION_OUTPUT_COLUMNS,
    output_columns,
)
from ltv.user_value.explanations import EXPLAINED_FEATURES, explain_user_value, top_drivers
from ltv.user_value.fitting import UserValueFit, fit_user_value, predict_user_value, score_user_value
from ltv.user_value.inputs import informative_columns, value_deciles
from ltv.user_value.runs import HOLDOUT_ESTIMATES, RANKING_METRICS, holdout_verdict

__all__ = [
    "BGNBDParameters", "COMMON_OUTPUT_COLUMNS", "DAYS_PER_WEEK", "EXPLAINED_FEATURES", "EXPLANATION_COLUMNS",
    "GammaGammaParameters", "HOLDOUT_ESTIMATES",
    "LABEL_COLUMN", "MIN_GAMMA_GAMMA_USERS", "MODEL_NAME", "RANKING_METRICS", "REQUIRED_COLUMNS",
    "SPLIT_VALUE_COLUMNS", "SUPPORTED_VERSIONS", "UserValueFit", "V1_FEATURES", "V2_OUTPUT_COLUMNS",
    "V3_BASE_FEATURES", "V3_FEATURES", "V3_HYPERPARAMETERS", "V3_TREE_WEIGHT", "VERSION_OUTPUT_COLUMNS",
    "bgnbd_conditional_expected_purchases", "bgnbd_log_likelihood", "bgnbd_probability_alive", "explain_user_value",
    "fit_bgnbd",
    "fit_gamma_gamma", "fit_user_value", "gamma_gamma_expected_spend", "gamma_gamma_log_likelihood",
    "holdout_verdict", "informative_columns", "output_columns", "predict_user_value", "score_user_value",
    "simulate_bgnbd", "top_drivers", "value_deciles",
]
