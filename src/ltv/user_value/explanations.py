"""Why a user got their predicted value: the top three drivers with signed contributions, every version.

One shape for every version (EXPLANATION_COLUMNS): driver_1 … driver_3 name an input feature of the
version (a column of the feature tables, such as `completed_orders` or `days_since_last_purchase`),
driver_k_contribution is what that feature adds to this user's predicted_spend, in the same currency.
Drivers are ordered by the size of their contribution, largest first (ties: the version's feature
order). A feature whose contribution is exactly 0 or undefined is no driver, so a user with fewer than
three drivers, and every user of a version that did not fit, gets NULL there: never a 0 standing in.

What a contribution means: the prediction minus the prediction with that one feature replaced by its
mean over the version's training users (the "baseline", recorded in the run's parameters as
explanation_baseline). Positive: this user's value of the feature raises the prediction above what an
otherwise identical user with an average value would get.

* v1 (linear): coefficient × (x − training mean), exact. The contributions add up to predicted_spend
  minus the prediction for the average training user (for least squares with an intercept, the mean
  training label). v1's own contribution_<feature> columns are coefficient × x (measured from 0, with
  the intercept beside them): driver contribution = contribution_<feature> − coefficient × mean.
* v2, v3, v4 (non-linear): the same occlusion, computed by predicting again with each feature
  replaced. It is exact for what it says (the effect of moving one feature to the average with the
  others held), but the contributions of a non-linear model do not add up to prediction − baseline:
  interactions and the floor at 0 are not shared out. The raw inputs are occluded, not the trees'
  derived inputs: occluding repeat_purchase_days in v3 moves v2's outputs the trees read too, so the
  driver is the feature an analyst can act on. Inputs that only make sense together (BG/NBD's
  purchase_span_days and customer_age_days, say) can get large contributions of opposite sign: one
  of them alone moved to the average describes an unusual customer. Read such a pair together.

Why occlusion rather than SHAP values: it needs nothing beyond the models themselves (the shap
package is not a dependency, and exact Shapley values of the v2/tree blend are not cheap), its
meaning is easy to state, it works the same for every version present or future, and its cost is
bounded: one prediction per explained feature, in batches of rows so memory stays flat. At 1M users
and 25 features that is 26 predictions of a million rows; v3 and v4 skip predicting v2 again for
the 20 features v2 does not read.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from ltv.cores import available_cores
from ltv.user_value.constants import EXPLANATION_COLUMNS, TOP_DRIVERS, V1_FEATURES, V3_BASE_FEATURES
from ltv.user_value.inputs import _numeric
from ltv.user_value.probabilistic import v2_history, v2_outputs, v2_parts
from ltv.user_value.tree_occlusion import V2_INPUTS, ForestOcclusion, stacked_predictor

# The inputs each version is explained by: the columns it reads from the feature tables.
EXPLAINED_FEATURES = {1: V1_FEATURES, 2: V2_INPUTS, 3: V3_BASE_FEATURES, 4: V3_BASE_FEATURES}
# Users explained at once: v3/v4 keep each tree's output per user of a batch (25,000 × 300 trees at
# most = 60 MB), so memory stays flat whatever the shop's size.
BATCH_ROWS = 25_000
# Batches explained at once, each in a thread: the tree kernels (tree_kernels.py) run without the
# GIL, so at a million users v3's and v4's explanations (~10 s of one core each) use a second core
# where the build leaves one idle. Threads rather than numba's parallel=True: dbt runs two Python
# models at once in one process, and numba's default threading layer is not safe to launch from two
# threads at the same time. Below EXPLANATION_THREADS_MIN_ROWS users (the tests' shops, the demo)
# one thread: a pool would cost more than it saves.
EXPLANATION_THREADS_MAX = 4
EXPLANATION_THREADS_MIN_ROWS = 50_000

# predict(features, occluded) -> predictions; see occlusion_contributions.
Predictor = Callable[[np.ndarray, int | None], np.ndarray]


def feature_baseline(version: int, train: pd.DataFrame) -> dict[str, float]:
    """The mean of every explained feature over the training users (NaN where all are missing)."""
    baseline = {}
    for column in EXPLAINED_FEATURES[version]:
        values = _numeric(train, column)
        present = values[~np.isnan(values)]
        baseline[column] = float(present.mean()) if present.size else float("nan")
    return baseline


def _unchanged_by(column: np.ndarray, value: float) -> bool:
    """True when replacing the column by value changes no row (NaN counts as equal to NaN)."""
    return bool(np.all((column == value) | (np.isnan(column) & np.isnan(value))))


def occlusion_contributions(predict: Predictor, features: np.ndarray, baseline: np.ndarray) -> np.ndarray:
    """contributions[i, j] = predict(x_i) − predict(x_i with feature j set to baseline[j]).

    predict(features, occluded) returns one prediction per row; occluded is the index of the column
    that holds the baseline (None for the users' own values). The call with None comes first, so a
    predictor may keep what it computed there for the occluded calls (v3 and v4 keep each tree's
    output). A feature that already equals its baseline in every row contributes exactly 0, unpredicted.
    Callers pass a batch of rows at a time (explain_user_value: BATCH_ROWS), which bounds the memory.
    """
    return _occlusion(predict, features, baseline)[0]


def _occlusion(predict: Predictor, features: np.ndarray, baseline: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(occlusion_contributions, the users' own predictions, which the occlusion starts from)."""
    features = np.array(features, dtype=float)  # a copy: each column is occluded in place, then restored
    contributions = np.zeros(features.shape)
    full = predict(features, None)
    for column in range(features.shape[1]):
        own = features[:, column].copy()
        if _unchanged_by(own, baseline[column]):
            continue
        features[:, column] = baseline[column]
        contributions[:, column] = full - predict(features, column)
        features[:, column] = own
    return contributions, full


def top_drivers(names, contributions: np.ndarray, count: int = TOP_DRIVERS) -> pd.DataFrame:
    """The `count` largest contributions by absolute value per row, as driver_k / driver_k_contribution.

    A contribution of 0 or NaN is no driver: its slot is NULL (None and NaN), and the slots of a row
    fill from driver_1. Ties keep the order of `names`.
    """
    contributions = np.asarray(contributions, dtype=float).reshape(len(contributions), len(names))
    magnitude = np.nan_to_num(np.abs(contributions), nan=0.0)
    # Padding columns of 0 so that a version with fewer features than `count` still has every slot.
    padding = max(count - len(names), 0)
    magnitude = np.pad(magnitude, ((0, 0), (0, padding)))
    contributions = np.pad(contributions, ((0, 0), (0, padding)))
    labels = np.array([*names, *([None] * padding)], dtype=object)
    order = np.argsort(-magnitude, axis=1, kind="stable")[:, :count]
    is_driver = np.take_along_axis(magnitude, order, axis=1) > 0
    chosen = np.take_along_axis(contributions, order, axis=1)
    explained = {}
    for slot in range(count):
        driver = np.where(is_driver[:, slot], labels[order[:, slot]], None)
        explained[f"driver_{slot + 1}"] = pd.Series(driver, dtype="str")
        explained[f"driver_{slot + 1}_contribution"] = np.where(is_driver[:, slot], chosen[:, slot], np.nan)
    return pd.DataFrame(explained)


def _batch_predictors(version: int, state: dict, horizon_days: int) -> Callable[[], Predictor]:
    """A maker of one predictor per batch (v2-v4, EXPLAINED_FEATURES order). A predictor keeps its
    batch's own pass for the occluded ones, so batches explained at once must not share one; what is
    costly to build (v3's and v4's tables of their trees) is built once here and only read after."""
    if version == 2:
        return lambda: _v2_predictor(state, horizon_days)
    shared = stacked_predictor(version, state, horizon_days)
    if isinstance(shared, ForestOcclusion):
        return shared.for_batch
    return lambda: stacked_predictor(version, state, horizon_days, per_tree=False)  # nothing to share


def _v2_predictor(state: dict, horizon_days: int) -> Predictor:
    """v2's predicted_spend; an occluded pass keeps the parts of the own pass its input does not feed
    (probabilistic.v2_parts: Gamma-Gamma's when a BG/NBD input is occluded, and so on)."""
    own = {}

    def predict(batch: np.ndarray, occluded: int | None) -> np.ndarray:
        history = v2_history(lambda name: batch[:, V2_INPUTS.index(name)])
        parts = v2_parts(state, history, horizon_days, None if occluded is None else own["known"])
        if occluded is None:
            own["known"] = (history, parts)
        return v2_outputs(history, parts)["predicted_spend"].to_numpy(dtype=float)

    return predict


def feature_contributions(version: int, state: dict, frame: pd.DataFrame, horizon_days: int) -> np.ndarray:
    """Every explained feature's contribution for every row of frame (users × EXPLAINED_FEATURES)."""
    return _contributions_and_predictions(version, state, frame, horizon_days)[0]


def _contributions_and_predictions(version: int, state: dict, frame: pd.DataFrame, horizon_days: int,
                                   predict: Predictor | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """feature_contributions and, for v2-v4, the version's own prediction of every row (None for v1).
    predict: this batch's predictor when the caller made it (explain_and_predict: one per batch)."""
    names = EXPLAINED_FEATURES[version]
    baseline_by_name = state["explanation_baseline"]
    baseline = np.array([baseline_by_name[column] for column in names], dtype=float)
    features = np.column_stack([_numeric(frame, column) for column in names])
    if version == 1:
        # Exact and one pass: the occlusion of a linear model is its coefficient times the distance.
        return state["model"].coef_ * (features - baseline), None
    return _occlusion(predict or _batch_predictors(version, state, horizon_days)(), features, baseline)


def explain_user_value(version: int, state: dict | None, frame: pd.DataFrame, horizon_days: int,
                       batch_rows: int = BATCH_ROWS) -> pd.DataFrame:
    """The EXPLANATION_COLUMNS for every row of frame (index kept), all NULL when the version did not
    fit (state None) or its fit predates explanations (no baseline stored). Explained BATCH_ROWS users
    at a time: a million users never hold a users × features × trees worth of memory."""
    return explain_and_predict(version, state, frame, horizon_days, batch_rows)[0]


def explain_and_predict(version: int, state: dict | None, frame: pd.DataFrame, horizon_days: int,
                        batch_rows: int = BATCH_ROWS, threads: int | None = None,
                        ) -> tuple[pd.DataFrame, np.ndarray | None]:
    """explain_user_value's drivers, and the version's predicted_spend for every row of frame, which
    the occlusion of v2-v4 computes before occluding anything: the same values as the version's
    predict, so scoring need not predict the latest users a second time (for v3 and v4 that is every
    tree for every user). None for v1 and for a version without explanations.

    threads: how many batches are explained at once (explanation_threads when None). The result is
    the same to the bit for any number: each batch is computed on its own and they are put back in order."""
    names = EXPLAINED_FEATURES[version]
    if state is None or "explanation_baseline" not in state:
        return top_drivers(names, np.full((len(frame), len(names)), np.nan)).set_axis(frame.index), None
    new_predictor = None if version == 1 or len(frame) == 0 else _batch_predictors(version, state, horizon_days)

    def explain_batch(batch: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray | None]:
        predict = None if new_predictor is None else new_predictor()
        contributions, predicted = _contributions_and_predictions(version, state, batch, horizon_days, predict)
        return top_drivers(names, contributions), predicted

    # Sliced here, so that the threads only read their own batch, never the shared frame.
    batches = [frame.iloc[start:start + batch_rows] for start in range(0, len(frame), batch_rows)]
    explained_batches = _in_order(explain_batch, batches, threads or explanation_threads(version, len(frame)))
    parts = [explained for explained, _ in explained_batches]
    explained = pd.concat(parts, ignore_index=True) if parts else top_drivers(names, np.zeros((0, len(names))))
    predictions = [predicted for _, predicted in explained_batches]
    predicted = None if version == 1 else (np.concatenate(predictions) if predictions else np.zeros(0))
    return explained[list(EXPLANATION_COLUMNS)].set_axis(frame.index), predicted


def explanation_threads(version: int, rows: int) -> int:
    """How many batches of `rows` users to explain at once: the cores this process may use, at most
    EXPLANATION_THREADS_MAX; one for a frame below EXPLANATION_THREADS_MIN_ROWS, and for v1, whose
    one vectorised pass is mostly the ranking of drivers, which holds the GIL."""
    if version == 1 or rows < EXPLANATION_THREADS_MIN_ROWS:
        return 1
    return max(1, min(available_cores(), EXPLANATION_THREADS_MAX))


def _in_order(function: Callable, items: list, threads: int) -> list:
    """[function(item) for item in items], `threads` items at a time, results in the items' order."""
    if threads <= 1 or len(items) <= 1:
        return [function(item) for item in items]
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="ltv-explain")
    try:
        return list(pool.map(function, items))
    finally:
        pool.shutdown(cancel_futures=True)  # after a failure, the batches not yet started are dropped
