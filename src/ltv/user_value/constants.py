"""The user-value models' names, columns and fixed settings, shared by every version."""

from __future__ import annotations

MODEL_NAME = "user_value"
SUPPORTED_VERSIONS = (1, 2, 3, 4)
# The registry's method of each version (fct_model_runs.method), so every run says how it was made.
VERSION_METHODS = {
    1: "linear_regression",
    2: "bgnbd_gamma_gamma",
    3: "boosting_bgnbd_ensemble",
    4: "tuned_boosting_bgnbd_stack",
}
LABEL_COLUMN = "future_net_spend"
DAYS_PER_WEEK = 7.0

V1_FEATURES = ("activity", "frequency", "amount")

# Behavioural features v3 learns from. Booleans become 0/1; missing values (average_rating of a user
# who never reviewed, say) stay NaN, which gradient-boosted trees route to the better side on their own.
V3_BASE_FEATURES = (
    "days_since_signup",
    "days_since_last_activity",
    "activity",
    "has_purchase",
    "days_since_first_purchase",
    "days_since_last_purchase",
    "completed_orders",
    "distinct_purchase_days",
    "repeat_purchase_days",
    "purchase_span_days",
    "customer_age_days",
    "frequency",
    "amount",
    "net_spend",
    "average_order_value",
    "average_repeat_order_value",
    "return_share",
    "cancelled_orders",
    "events_last_90_days",
    "views_last_90_days",
    "add_to_cart_last_90_days",
    "reviews_written",
    "average_rating",
    "support_contacts",
    "average_support_satisfaction",
)
V2_OUTPUT_COLUMNS = ("predicted_purchases", "probability_alive", "predicted_average_order_value")
V3_FEATURES = V3_BASE_FEATURES + V2_OUTPUT_COLUMNS + ("v2_predicted_spend",)

REQUIRED_COLUMNS = {
    1: ("user_id",) + V1_FEATURES,
    2: (
        "user_id",
        "has_purchase",
        "repeat_purchase_days",
        "purchase_span_days",
        "customer_age_days",
        "average_repeat_order_value",
    ),
    3: ("user_id",) + V3_BASE_FEATURES,
    4: ("user_id",) + V3_BASE_FEATURES,
}

# Per labelled user at the cut-off: the holdout pair (held-out users only) and the cut-off pair for
# every labelled user, train and holdout alike, so an analyst can back-test each version in BI.
SPLIT_VALUE_COLUMNS = ("holdout_predicted_spend", "holdout_actual_spend", "cutoff_predicted_spend", "cutoff_actual_spend")
COMMON_OUTPUT_COLUMNS = ("user_id", "model_version", "predicted_spend", "value_decile", "split", *SPLIT_VALUE_COLUMNS)
VERSION_OUTPUT_COLUMNS = {
    1: ("contribution_activity", "contribution_frequency", "contribution_amount", "intercept"),
    2: V2_OUTPUT_COLUMNS,
    3: (),
    4: (),
}

# Every version's per-user explanation (explanations.py): the TOP_DRIVERS input features that move
# the prediction most, each with its signed contribution in the currency of predicted_spend.
TOP_DRIVERS = 3
EXPLANATION_COLUMNS = tuple(
    column for slot in range(1, TOP_DRIVERS + 1) for column in (f"driver_{slot}", f"driver_{slot}_contribution"))

# v3's hyperparameters. Chosen for a few thousand to a few million users: shallow trees and a modest
# learning rate resist over-fitting the heavy right tail of spend; no early stopping, because its
# internal validation split would make the number of trees depend on the data order.
V3_HYPERPARAMETERS = {
    "loss": "poisson",
    "learning_rate": 0.05,
    "max_iter": 200,
    "max_leaf_nodes": 7,
    "min_samples_leaf": 40,
    "l2_regularization": 1.0,
    "early_stopping": False,
    "random_state": 0,
}

# OpenMP threads of every boosting fit and predict (scikit-learn's HistGradientBoosting): the trees
# are the same to the last bit with one thread or two (tests/python/test_user_value_threads.py), and
# on 2 cores two halve a fit's wall time, provided waiting threads sleep instead of spinning
# (OMP_WAIT_POLICY=PASSIVE, set by ltv.dbt_entrypoints before scikit-learn loads OpenMP): spinning
# threads made HistGB many times slower on a shared 2-core machine, the reason it ran on one.
BOOSTING_THREADS = 2
# ... but only from this many rows (users) up. Each split of each tree starts a parallel region, and
# waking a sleeping thread costs more than a small fit's split: measured (100 trees, 31 leaves, 20
# features, 2 cores) one thread was faster up to 100,000 rows (2,000 rows: 0.65 s against 1.43 s; the
# demo's v4, 19 fits: 5.3 s against 14.7 s) and two faster from about 300,000.
BOOSTING_PARALLEL_MIN_ROWS = 200_000

# v3's prediction = this weight × the trees + the rest × v2's expected spend (when v2 could be fitted).
V3_TREE_WEIGHT = 0.5

# Gamma-Gamma needs a handful of repeat buyers to say anything about the spread of spend.
MIN_GAMMA_GAMMA_USERS = 10


def output_columns(version: int) -> list[str]:
    """The columns `predict_user_value` returns for a model version, in order."""
    _check_version(version)
    return list(COMMON_OUTPUT_COLUMNS) + list(VERSION_OUTPUT_COLUMNS[version]) + list(EXPLANATION_COLUMNS)


def _check_version(version: int) -> None:
    if version not in SUPPORTED_VERSIONS:
        raise ValueError(f"unknown user_value model version {version!r}; supported: {SUPPORTED_VERSIONS}")


# --------------------------------------------------------------------------------------------------
# v4: tuned per shop on a validation split carved out of the training period (see tuning.py).

# HistGradientBoosting has no Tweedie loss (only squared_error, absolute_error, gamma, poisson and
# quantile; gamma needs every label > 0), so the loss choice is Poisson against squared error.
# The learning rate trades against the number of trees, which early stopping already chooses, so
# one rate keeps the grid at 8 points (each a fit with early stopping) within the time cap.
V4_GRID = {
    "loss": ("poisson", "squared_error"),
    "max_leaf_nodes": (7, 31),
    "learning_rate": (0.1,),
    "monotonic": (False, True),
}
# Fixed for every grid point; the number of trees comes from early stopping on the validation users.
V4_FIXED_HYPERPARAMETERS = {
    "max_iter": 300,
    "min_samples_leaf": 40,
    "l2_regularization": 1.0,
    "early_stopping": True,
    "n_iter_no_change": 10,
    "random_state": 0,
}
# Features whose effect on future spend can only be non-decreasing, for the monotonic grid points:
# frequency (purchase days, orders), recency (recent activity, BG/NBD's P(alive)) and v2's outputs.
# days_since_last_purchase is not among them: it is 0 for users who never bought, the least valuable.
V4_INCREASING_FEATURES = (
    "activity",
    "completed_orders",
    "distinct_purchase_days",
    "repeat_purchase_days",
    "probability_alive",
    "predicted_purchases",
    "v2_predicted_spend",
)
# Caps that keep the fit bounded on a million-user shop (2 cores): the grid is searched on at most
# V4_MAX_TUNING_USERS validation users, the chosen trees are refitted on at most V4_MAX_FIT_USERS
# training users (seeded samples; v2 inside v4 is refitted on the same sample as the trees, so on
# shops above the cap v4's probabilistic part is fitted on fewer users than v2 itself).
V4_MAX_TUNING_USERS = 30_000
V4_MAX_FIT_USERS = 100_000
# Share of the validation users the grid points are judged on (the rest fit them).
V4_VALIDATION_EVAL_SHARE = 0.3

# The plain gradient-boosting baseline v4 is compared with: scikit-learn's defaults (random_state
# fixed so that its internal early-stopping split is reproducible) on recency, frequency, monetary
# value and tenure, fitted on the same training users as v4's trees (all of them below
# V4_MAX_FIT_USERS, the same seeded sample above) and measured on the same holdout. A registry row
# only: never served, never champion.
BASELINE_MODEL_VERSION = "baseline_rfm_boosting"
BASELINE_METHOD = "baseline_boosting"
BASELINE_FEATURES = (
    "days_since_last_purchase",
    "distinct_purchase_days",
    "completed_orders",
    "net_spend",
    "average_order_value",
    "customer_age_days",
    "days_since_signup",
)
