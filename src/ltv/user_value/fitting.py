"""The entry points: split the labelled users, fit a version on train, measure it on holdout, score."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ltv.metrics import value_metrics
from ltv.user_value.baseline import baseline_parameters, fit_baseline, predict_baseline
from ltv.user_value.boosting import _fit_v3, _parameters_v3, _predict_v3
from ltv.user_value.constants import (
    BASELINE_MODEL_VERSION,
    EXPLANATION_COLUMNS,
    LABEL_COLUMN,
    SPLIT_VALUE_COLUMNS,
    V4_MAX_FIT_USERS,
    VERSION_OUTPUT_COLUMNS,
    _check_version,
    output_columns,
)
from ltv.user_value.explanations import explain_and_predict, explain_user_value, feature_baseline
from ltv.user_value.inputs import _holdout_mask, _numeric, _prepare, value_deciles
from ltv.user_value.linear import _fit_v1, _parameters_v1, _predict_v1
from ltv.user_value.probabilistic import _fit_v2, _parameters_v2, _predict_v2
from ltv.user_value.runs import _empty_predictions, _run_record, _skipped, holdout_verdict
from ltv.user_value.stored_split import pack_split_lookup, unpack_split_lookup
from ltv.user_value.tuned import _fit_v4, _parameters_v4, _predict_v4, refit_sample


def _fit(version: int, train: pd.DataFrame, horizon_days: int, tuning: dict, v2_state: dict | None = None) -> dict:
    """tuning: what only v4 reads (validation_features, seed, min_labelled_users); v2_state: what
    only v3 reads (v2 fitted on the same training users, or None to fit it here)."""
    if version == 1:
        return _fit_v1(train)
    if version == 2:
        return _fit_v2(train)
    if version == 3:
        return _fit_v3(train, horizon_days, v2_state)
    return _fit_v4(train, horizon_days, **tuning)


def _predict(version: int, state: dict, frame: pd.DataFrame, horizon_days: int) -> pd.DataFrame:
    if version == 1:
        return _predict_v1(state, frame)
    if version == 2:
        return _predict_v2(state, frame, horizon_days)
    if version == 3:
        return _predict_v3(state, frame, horizon_days)
    return _predict_v4(state, frame, horizon_days)


def _parameters(version: int, state: dict) -> dict:
    if version == 1:
        return _parameters_v1(state)
    if version == 2:
        return _parameters_v2(state)
    if version == 3:
        return _parameters_v3(state)
    return _parameters_v4(state)


@dataclass
class UserValueFit:
    """A fitted (or skipped) user-value model: what scoring needs and what the registry records.

    Picklable, so a build can store it and a later build with the same training data reuse it; the
    split lookup is pickled compactly (stored_split.py). state is None when the fit was skipped; split_lookup has one row per labelled user at the
    cut-off: user_id, split ('train'/'holdout'), holdout_predicted_spend, holdout_actual_spend and the
    cut-off prediction and actual spend of every labelled user (cutoff_predicted_spend, cutoff_actual_spend).
    """

    version: int
    horizon_days: int
    state: dict | None
    split_lookup: pd.DataFrame
    run: dict
    # v4 only: the plain boosting baseline's run on the same split (a registry row, never served).
    baseline_run: dict | None = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "split_lookup": pack_split_lookup(self.split_lookup)}

    def __setstate__(self, state: dict) -> None:
        lookup = state["split_lookup"]
        # Fits stored before the lookup was packed hold the frame itself.
        self.__dict__.update({**state, "split_lookup": lookup if isinstance(lookup, pd.DataFrame)
                              else unpack_split_lookup(lookup)})


def _borrowed_state(version: int, borrowed: int, fit: UserValueFit | None, labelled: pd.DataFrame,
                    is_holdout: np.ndarray) -> dict | None:
    """The fitted state of version `borrowed` (v2 for v3, v3 for v4) for `version` to build on, or
    None (the version then fits it itself). Its split must be this one, user for user: a fit of other
    training users must not slip in."""
    if version != borrowed + 1 or fit is None or fit.state is None:
        return None
    lookup = fit.split_lookup
    same_split = (fit.version == borrowed and len(lookup) == len(labelled)
                  and np.array_equal(lookup["user_id"].to_numpy(dtype=str), labelled["user_id"].to_numpy(dtype=str))
                  and np.array_equal(lookup["split"].to_numpy(dtype=str) == "holdout", is_holdout))
    if not same_split:
        raise ValueError(f"v{borrowed}_fit is not v{borrowed}'s fit of the same training users")
    # What _fit_vN made; fit_user_value adds the explanation baseline, which is the version's own.
    return {key: value for key, value in fit.state.items() if key != "explanation_baseline"}


def _cutoff_predictions(version: int, state: dict, train: pd.DataFrame, holdout: pd.DataFrame, horizon_days: int,
                        v3_fit: UserValueFit | None) -> tuple[np.ndarray, np.ndarray]:
    """(holdout, train) predictions at the cut-off. v4 serving v3's own fit (tuned._fit_v4) predicts
    what v3 predicted, which v3's split lookup holds already (same users, same order)."""
    if version == 4 and state.get("serves_v3") and v3_fit is not None and state["model"] is v3_fit.state["model"]:
        lookup = v3_fit.split_lookup
        is_holdout = lookup["split"].to_numpy(dtype=str) == "holdout"
        return (lookup["holdout_predicted_spend"].to_numpy(dtype=float)[is_holdout],
                lookup["cutoff_predicted_spend"].to_numpy(dtype=float)[~is_holdout])
    return (_predict(version, state, holdout, horizon_days)["predicted_spend"].to_numpy(dtype=float),
            _predict(version, state, train, horizon_days)["predicted_spend"].to_numpy(dtype=float))


def _skipped_fit(version: int, horizon_days: int, message: str, train_rows: int = 0,
                 holdout_rows: int = 0) -> UserValueFit:
    _, run = _skipped(version, message, train_rows, holdout_rows)
    empty = pd.DataFrame({"user_id": pd.Series([], dtype="str"), "split": pd.Series([], dtype="str"),
                          **{column: pd.Series([], dtype="float64") for column in SPLIT_VALUE_COLUMNS}})
    return UserValueFit(version, horizon_days, None, empty, run)


def _holdout_measure(train: pd.DataFrame, holdout_actual: np.ndarray, holdout_predicted: np.ndarray
                     ) -> tuple[dict, str | None]:
    """value_metrics on the holdout, the training-mean baseline's RMSE and the verdict."""
    train_mean = float(np.mean(_numeric(train, LABEL_COLUMN)))
    metrics = value_metrics(holdout_actual, holdout_predicted)
    metrics["baseline_rmse"] = float(np.sqrt(np.mean((holdout_actual - train_mean) ** 2)))
    return holdout_verdict(metrics, holdout_actual)


def _split_lookup(labelled: pd.DataFrame, is_holdout: np.ndarray, holdout_predicted: np.ndarray,
                  train_predicted: np.ndarray) -> pd.DataFrame:
    split_lookup = pd.DataFrame(
        {
            "user_id": labelled["user_id"].astype("str"),
            "split": np.where(is_holdout, "holdout", "train"),
            "holdout_predicted_spend": np.nan,
            "holdout_actual_spend": np.nan,
        }
    )
    split_lookup.loc[is_holdout, "holdout_predicted_spend"] = holdout_predicted
    split_lookup.loc[is_holdout, "holdout_actual_spend"] = _numeric(labelled, LABEL_COLUMN)[is_holdout]
    split_lookup["cutoff_predicted_spend"] = np.nan
    split_lookup.loc[is_holdout, "cutoff_predicted_spend"] = holdout_predicted
    split_lookup.loc[~is_holdout, "cutoff_predicted_spend"] = train_predicted
    split_lookup["cutoff_actual_spend"] = _numeric(labelled, LABEL_COLUMN)
    return split_lookup


def baseline_run(train: pd.DataFrame, holdout: pd.DataFrame, seed: int) -> dict:
    """The plain boosting baseline fitted on the training users v4's trees are refitted on (the same
    capped sample) and measured on the same holdout, as a registry run of its own (model_version
    BASELINE_MODEL_VERSION, method BASELINE_METHOD)."""
    try:
        state = fit_baseline(refit_sample(train, seed))
        predicted = predict_baseline(state, holdout)
        status, parameters = "fitted", baseline_parameters(state)
        metrics, caveat = _holdout_measure(train, _numeric(holdout, LABEL_COLUMN), predicted)
        message = (f"fitted the plain boosting baseline on {min(len(train), V4_MAX_FIT_USERS)} users, "
                   f"evaluated on {len(holdout)}")
        message = f"{message}; {caveat}" if caveat else message
    except Exception as error:  # the baseline is a yardstick: its failure must not stop v4
        status, parameters = "skipped", {}
        metrics = {**value_metrics([], []), "baseline_rmse": None, "metric_status": None, "beats_baseline": None}
        message = f"the plain boosting baseline could not be fitted: {type(error).__name__}: {error}"
    return _run_record(BASELINE_MODEL_VERSION, status, message, min(len(train), V4_MAX_FIT_USERS), len(holdout),
                       parameters, metrics)


def fit_user_value(
    features_at_cutoff: pd.DataFrame,
    version: int,
    horizon_days: int = 180,
    holdout_share: float = 0.2,
    seed: int = 42,
    min_labelled_users: int = 50,
    features_at_validation_cutoff: pd.DataFrame | None = None,
    v2_fit: UserValueFit | None = None,
    v3_fit: UserValueFit | None = None,
) -> UserValueFit:
    """The fitting half of predict_user_value: split, fit on train, measure on holdout.

    features_at_validation_cutoff (v4 only; the other versions ignore it): the features as of the
    validation cut-off with the spend up to the cut-off as label, on which v4 tunes. Without it v4
    tunes on a random share of the training users. v4 also fits the plain boosting baseline on the
    same split; its run is UserValueFit.baseline_run.

    v2_fit (v3 only): v2's fit of the same features_at_cutoff with the same horizon_days,
    holdout_share, seed and min_labelled_users, so of the same training users; v3 takes its
    BG/NBD + Gamma-Gamma from it instead of fitting them again (the dbt model loads it from the
    registry by v2's training fingerprint). A skipped v2 fit (state None) is ignored.

    v3_fit (v4 only): v3's fit of the same training users, likewise; when v4's final choice is v3
    itself (v3's recipe with v3's blend), v4 serves v3's model instead of fitting it again.
    """
    _check_version(version)
    if not 0.0 < holdout_share < 1.0:
        raise ValueError(f"holdout_share must be between 0 and 1, got {holdout_share}")
    if horizon_days <= 0:
        raise ValueError(f"horizon_days must be positive, got {horizon_days}")
    if LABEL_COLUMN not in features_at_cutoff.columns:
        raise ValueError(f"features_at_cutoff lacks the label column {LABEL_COLUMN}")
    at_cutoff = _prepare(features_at_cutoff, version, "features_at_cutoff")

    label = _numeric(at_cutoff, LABEL_COLUMN)
    labelled = at_cutoff.loc[np.isfinite(label)].reset_index(drop=True)
    required_users = max(int(min_labelled_users), 2)
    if len(labelled) < required_users:
        return _skipped_fit(
            version, horizon_days,
            f"only {len(labelled)} labelled users at the cut-off; user_value v{version} needs at least {required_users}",
        )

    # `labelled` is sorted by user_id (see _prepare), as the split requires.
    is_holdout = _holdout_mask(len(labelled), holdout_share, seed)
    train = labelled.loc[~is_holdout].reset_index(drop=True)
    holdout = labelled.loc[is_holdout].reset_index(drop=True)
    tuning = {"validation_features": features_at_validation_cutoff, "seed": seed,
              "min_labelled_users": min_labelled_users,
              "v3_state": _borrowed_state(version, 3, v3_fit, labelled, is_holdout)}
    v2_state = _borrowed_state(version, 2, v2_fit, labelled, is_holdout)
    extra_run = baseline_run(train, holdout, seed) if version == 4 else None
    try:
        state = _fit(version, train, horizon_days, tuning, v2_state)
        # What each feature is occluded with when a user's prediction is explained (explanations.py).
        state["explanation_baseline"] = feature_baseline(version, train)
        holdout_predicted, train_predicted = _cutoff_predictions(version, state, train, holdout, horizon_days, v3_fit)
        parameters = {**_parameters(version, state), "explanation_baseline": state["explanation_baseline"]}
        if not (np.all(np.isfinite(holdout_predicted)) and np.all(np.isfinite(train_predicted))):
            raise ValueError("the fitted model produced non-finite predictions")
    except Exception as error:  # a failed fit must not fail the dbt build; the run says why
        skipped = _skipped_fit(
            version, horizon_days,
            f"user_value v{version} could not be fitted on {len(train)} training users: {type(error).__name__}: {error}",
            train_rows=len(train), holdout_rows=len(holdout),
        )
        skipped.baseline_run = extra_run
        return skipped

    metrics, caveat = _holdout_measure(train, _numeric(holdout, LABEL_COLUMN), holdout_predicted)
    split_lookup = _split_lookup(labelled, is_holdout, holdout_predicted, train_predicted)
    message = f"fitted user_value v{version} on {len(train)} users, evaluated on {len(holdout)}"
    if caveat:
        message = f"{message}; {caveat}"
    run = _run_record(version, "fitted", message, len(train), len(holdout), parameters, metrics)
    return UserValueFit(version, horizon_days, state, split_lookup, run, extra_run)


def score_user_value(fit: UserValueFit, features_latest: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """The scoring half of predict_user_value: (predictions, run) for every user of features_latest."""
    version, horizon_days = fit.version, fit.horizon_days
    latest = _prepare(features_latest, version, "features_latest")
    if fit.state is None:
        return _empty_predictions(version), fit.run
    # Explained first: the occlusion predicts every user on its way, which v3 and v4 then need not
    # do again; v2's other output columns come from its own (cheap) predict.
    explained, explained_spend, explanation_note = _explanations(fit, latest)
    try:
        if version in (3, 4) and explained_spend is not None:
            scored = pd.DataFrame({"predicted_spend": explained_spend}, index=latest.index)
        else:
            scored = _predict(version, fit.state, latest, horizon_days)
        if not np.all(np.isfinite(scored["predicted_spend"])):
            raise ValueError("the fitted model produced non-finite predictions")
    except Exception as error:  # as for a failed fit: the run says why, the build goes on
        return _skipped(
            version,
            f"user_value v{version} could not score {len(latest)} users: {type(error).__name__}: {error}",
            train_rows=fit.run["train_rows"], holdout_rows=fit.run["holdout_rows"],
        )

    predictions = pd.DataFrame({"user_id": latest["user_id"].astype("str")})
    predictions["model_version"] = np.full(len(latest), version, dtype="int64")
    predictions["predicted_spend"] = scored["predicted_spend"].to_numpy(dtype=float)
    predictions["value_decile"] = value_deciles(predictions["user_id"], predictions["predicted_spend"])
    # A hash join rather than Series.isin: isin on Arrow-backed strings loops in Python and took
    # seconds for a few hundred thousand users.
    joined = predictions[["user_id"]].merge(fit.split_lookup, on="user_id", how="left", sort=False)
    predictions["split"] = joined["split"].fillna("scoring_only").astype("str").to_numpy()
    for column in SPLIT_VALUE_COLUMNS:
        predictions[column] = joined[column].to_numpy(dtype=float)
    for column in VERSION_OUTPUT_COLUMNS[version]:
        predictions[column] = scored[column].to_numpy(dtype=float)
    for column in EXPLANATION_COLUMNS:
        predictions[column] = explained[column].to_numpy()
    predictions = predictions[output_columns(version)].reset_index(drop=True)
    run = dict(fit.run)
    run["message"] = (f"{run['message']}, scored {len(predictions)} users for a {horizon_days}-day horizon"
                      f"{explanation_note}")
    return predictions, run


def _explanations(fit: UserValueFit, latest: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray | None, str]:
    """The drivers of every scored user, the predicted spend the explanation computed on its way
    (explain_and_predict; None where it did not), and a note for the run's message if the drivers
    could not be had: an explanation that fails leaves its columns NULL but must not cost the
    predictions, which are then predicted on their own."""
    try:
        return (*explain_and_predict(fit.version, fit.state, latest, fit.horizon_days), "")
    except Exception as error:  # the predictions stand; the run says why the drivers are missing
        return (explain_user_value(fit.version, None, latest, fit.horizon_days), None,
                f"; drivers not explained: {type(error).__name__}: {error}")


def predict_user_value(
    features_at_cutoff: pd.DataFrame,
    features_latest: pd.DataFrame,
    version: int,
    horizon_days: int = 180,
    holdout_share: float = 0.2,
    seed: int = 42,
    min_labelled_users: int = 50,
    features_at_validation_cutoff: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, dict]:
    """Fit user-value model `version` (1, 2, 3 or 4) and score every user of `features_latest`.

    Users of `features_at_cutoff` with a non-null `future_net_spend` are split deterministically
    (a `seed`-ed permutation of the sorted user ids) into train and holdout (`holdout_share`). The
    model is fitted on train, judged on holdout, and the train-fitted model then scores
    `features_latest`. Row order of either input never changes the output.

    Returns (predictions, run):

    * predictions, one row per user of `features_latest`, sorted by user_id, with the columns of
      `output_columns(version)`: user_id, model_version, predicted_spend (expected net spend over the
      next `horizon_days` from the latest date), value_decile (1..10, 10 = highest predicted_spend,
      equal-count, ties by user_id), split ('train', 'holdout' or 'scoring_only' for users not
      labelled at the cut-off), holdout_predicted_spend and holdout_actual_spend (the cut-off
      prediction and the label, holdout rows only, null elsewhere), cutoff_predicted_spend and
      cutoff_actual_spend (the same for every labelled user, train rows in-sample), then per version:
      v1 contribution_activity, contribution_frequency, contribution_amount and intercept, which sum
      to predicted_spend (v1 predictions may be negative: the published method is reproduced as is,
      without clipping); v2 predicted_purchases, probability_alive (null for users who never bought)
      and predicted_average_order_value; v3 and v4 nothing extra; then, for every version, driver_1,
      driver_1_contribution … driver_3_contribution (explanations.explain_user_value: the three input
      features that move the prediction most and what each adds). v2, v3 and v4 predictions are >= 0.
      Holdout users missing from `features_latest` count in the metrics but have no row.
    * run, a JSON-ready dict: model_name, model_version, status ('fitted', 'reused' or 'skipped'), message,
      train_rows, holdout_rows, parameters, and metrics (`value_metrics` on the holdout plus
      baseline_rmse, the RMSE of predicting the train mean for every holdout user, metric_status
      and beats_baseline: see `holdout_verdict`). A holdout below MIN_EVALUATED_USERS users, one
      where every label is equal or one with fewer than MIN_RANKED_SPENDERS spenders still gives a
      fitted model that scores everyone, but its undefined metrics are None (JSON null), never 0,
      and metric_status says why.

    With fewer than `min_labelled_users` labelled users, or when fitting fails, nothing is raised:
    predictions has the output columns and zero rows, and run has status 'skipped' and a message
    saying why. Missing input columns, duplicate user ids and an unknown version do raise ValueError,
    as they are mistakes in the calling code rather than in the data.
    """
    fit = fit_user_value(features_at_cutoff, version, horizon_days, holdout_share, seed, min_labelled_users,
                         features_at_validation_cutoff)
    return score_user_value(fit, features_latest)
