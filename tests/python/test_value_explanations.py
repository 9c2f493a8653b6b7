"""Per-user explanations of the user-value versions (ltv.user_value.explanations): the top three drivers
with signed contributions, checked against values computed independently — by hand for a linear model,
by brute-force occlusion through each version's own predict for the others — and on the demo build."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression
from test_user_value import HORIZON_DAYS, build_population

from ltv.user_value import (
    EXPLANATION_COLUMNS,
    fit_user_value,
    predict_user_value,
    score_user_value,
    top_drivers,
)
from ltv.user_value.explanations import (
    EXPLAINED_FEATURES,
    explain_and_predict,
    explain_user_value,
    feature_contributions,
)
from ltv.user_value.fitting import _predict
from ltv.user_value.inputs import _prepare
from ltv.user_value.tree_occlusion import ForestOcclusion, stacked_predictor

# --------------------------------------------------------------------------------------------------
# Ordering and NULLs
# --------------------------------------------------------------------------------------------------


def test_top_drivers_are_ordered_by_absolute_contribution_and_null_when_missing():
    names = ["a", "b", "c", "d"]
    contributions = np.array([
        [1.0, -5.0, 3.0, 0.0],        # b (−5) beats c (3) beats a (1); d moves nothing
        [0.0, 0.0, 2.0, np.nan],      # one driver only: the other slots are NULL, not 0
        [2.0, -2.0, 0.0, 0.5],        # a tie in size keeps the feature order
        [0.0, 0.0, 0.0, 0.0],         # nothing moves the prediction: no driver at all
    ])
    explained = top_drivers(names, contributions)
    assert list(explained.columns) == list(EXPLANATION_COLUMNS)
    drivers = explained[["driver_1", "driver_2", "driver_3"]].astype(object).where(explained.notna(), None)
    assert drivers.values.tolist() == [["b", "c", "a"], ["c", None, None], ["a", "b", "d"], [None, None, None]]
    values = explained[["driver_1_contribution", "driver_2_contribution", "driver_3_contribution"]].to_numpy()
    np.testing.assert_array_equal(values, [[-5.0, 3.0, 1.0], [2.0, np.nan, np.nan], [2.0, -2.0, 0.5],
                                           [np.nan, np.nan, np.nan]])


def test_a_version_with_fewer_features_than_slots_leaves_the_rest_null():
    explained = top_drivers(["only"], np.array([[4.0], [0.0]]))
    assert explained["driver_1"].tolist()[0] == "only" and explained["driver_2"].isna().all()
    assert explained["driver_1"].isna().tolist() == [False, True]


# --------------------------------------------------------------------------------------------------
# v1: exact linear contributions, computed by hand
# --------------------------------------------------------------------------------------------------


def test_linear_contributions_match_the_hand_computation():
    # future spend = 10 + 2·activity − 3·frequency + 0.5·amount exactly; training means 3, 2, 30.
    train = pd.DataFrame({"activity": [0.0, 2.0, 4.0, 6.0], "frequency": [1.0, 3.0, 2.0, 2.0],
                          "amount": [10.0, 30.0, 20.0, 60.0]})
    label = 10 + 2 * train["activity"] - 3 * train["frequency"] + 0.5 * train["amount"]
    state = {"model": LinearRegression().fit(train, label),
             "explanation_baseline": {"activity": 3.0, "frequency": 2.0, "amount": 30.0}}
    users = pd.DataFrame({"user_id": ["u1", "u2", "u3"], "activity": [5.0, 1.0, 3.0],
                          "frequency": [0.0, 4.0, 2.0], "amount": [10.0, 50.0, 30.0]})
    explained = explain_user_value(1, state, users, HORIZON_DAYS)
    # u1: 2·(5−3) = 4, −3·(0−2) = 6, 0.5·(10−30) = −10; u2: −4, −6, +10; u3 is the average user.
    assert explained.loc[0, ["driver_1", "driver_2", "driver_3"]].tolist() == ["amount", "frequency", "activity"]
    assert explained.loc[0, ["driver_1_contribution", "driver_2_contribution", "driver_3_contribution"]].tolist() == (
        pytest.approx([-10.0, 6.0, 4.0]))
    assert explained.loc[1, ["driver_1_contribution", "driver_2_contribution", "driver_3_contribution"]].tolist() == (
        pytest.approx([10.0, -6.0, -4.0]))
    assert explained.loc[2].isna().all()


@pytest.fixture(scope="module")
def population():
    return build_population(n_users=800, seed=3)


def test_v1_drivers_agree_with_its_contribution_columns(population):
    at_cutoff, latest = population
    fit = fit_user_value(at_cutoff, 1, horizon_days=HORIZON_DAYS)
    predictions, run = score_user_value(fit, latest)
    means = fit.state["explanation_baseline"]
    assert run["parameters"]["explanation_baseline"] == pytest.approx(means)
    train = at_cutoff[at_cutoff["user_id"].isin(fit.split_lookup.query("split == 'train'")["user_id"])]
    assert means["amount"] == pytest.approx(train["amount"].mean())
    coefficients = {name: run["parameters"][f"coefficient_{name}"] for name in EXPLAINED_FEATURES[1]}
    at_mean = run["parameters"]["intercept"] + sum(coefficients[name] * means[name] for name in coefficients)
    explained_sum = np.zeros(len(predictions))
    for slot in (1, 2, 3):
        driver, contribution = predictions[f"driver_{slot}"], predictions[f"driver_{slot}_contribution"]
        for name in coefficients:
            rows = (driver == name).to_numpy()
            expected = predictions.loc[rows, f"contribution_{name}"] - coefficients[name] * means[name]
            np.testing.assert_allclose(contribution[rows], expected, rtol=1e-9, atol=1e-9)
        explained_sum += contribution.fillna(0.0).to_numpy()
    # Exact for a linear model: the three add up to the prediction minus the average training user's.
    np.testing.assert_allclose(explained_sum, predictions["predicted_spend"] - at_mean, rtol=1e-9, atol=1e-8)


# --------------------------------------------------------------------------------------------------
# v2–v4: the vectorised occlusion against a brute-force one through the versions' own predict
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fits(population):
    at_cutoff, _ = population
    fitted = {version: fit_user_value(at_cutoff, version, horizon_days=HORIZON_DAYS) for version in (2, 3, 4)}
    for fit in fitted.values():
        assert fit.state is not None, fit.run["message"]
    return fitted


def _some_users(latest: pd.DataFrame, version: int) -> pd.DataFrame:
    """Eight users, buyers and non-buyers, some without a rating (NaN features), as floats."""
    prepared = _prepare(latest, version, "latest")
    chosen = pd.concat([prepared[prepared["has_purchase"].astype(bool)].head(5),
                        prepared[~prepared["has_purchase"].astype(bool)].head(3)]).reset_index(drop=True)
    return chosen.astype(dict.fromkeys(EXPLAINED_FEATURES[version], float))


def _brute_force(version: int, fit, users: pd.DataFrame) -> np.ndarray:
    """One user and one feature at a time, each through the version's public-facing predict."""
    names = EXPLAINED_FEATURES[version]
    contributions = np.zeros((len(users), len(names)))
    for row in range(len(users)):
        user = users.iloc[[row]].reset_index(drop=True)
        own = _predict(version, fit.state, user, HORIZON_DAYS)["predicted_spend"].iloc[0]
        for column, name in enumerate(names):
            occluded = user.copy()
            occluded[name] = fit.state["explanation_baseline"][name]
            contributions[row, column] = own - _predict(version, fit.state, occluded, HORIZON_DAYS)[
                "predicted_spend"].iloc[0]
    return contributions


@pytest.mark.parametrize("version", [2, 3, 4])
def test_vectorised_occlusion_equals_brute_force(population, fits, version):
    _, latest = population
    users = _some_users(latest, version)
    expected = _brute_force(version, fits[version], users)
    assert np.abs(expected).max() > 0  # the check would be empty if nothing moved
    computed = feature_contributions(version, fits[version].state, users, HORIZON_DAYS)
    np.testing.assert_allclose(computed, expected, rtol=1e-9, atol=1e-9)
    explained = explain_user_value(version, fits[version].state, users, HORIZON_DAYS)
    pd.testing.assert_frame_equal(explained, top_drivers(EXPLAINED_FEATURES[version], expected),
                                  check_exact=False, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("version", [3, 4])
def test_per_tree_and_whole_model_occlusion_agree(population, fits, version):
    """The per-tree shortcut re-evaluates only the trees that read a changed column; the fallback
    predicts the whole model again. Both must give the model's own predictions."""
    from ltv.user_value.explanations import occlusion_contributions

    _, latest = population
    state = fits[version].state
    users = _prepare(latest, version, "latest").head(200)
    names = EXPLAINED_FEATURES[version]
    features = np.column_stack([users[name].astype(float).to_numpy() for name in names])
    baseline = np.array([state["explanation_baseline"][name] for name in names])
    per_tree = stacked_predictor(version, state, HORIZON_DAYS)
    assert isinstance(per_tree, ForestOcclusion)
    whole = stacked_predictor(version, state, HORIZON_DAYS, per_tree=False)
    np.testing.assert_allclose(per_tree(features, None),
                               _predict(version, state, users, HORIZON_DAYS)["predicted_spend"], rtol=1e-12)
    np.testing.assert_allclose(occlusion_contributions(per_tree, features, baseline),
                               occlusion_contributions(whole, features, baseline), rtol=1e-9, atol=1e-9)


def test_batches_do_not_change_the_explanation(population, fits):
    _, latest = population
    users = _prepare(latest, 3, "latest").head(60)
    whole = explain_user_value(3, fits[3].state, users, HORIZON_DAYS)
    batched = explain_user_value(3, fits[3].state, users, HORIZON_DAYS, batch_rows=7)
    pd.testing.assert_frame_equal(whole, batched)


def _assert_bitwise_equal(left: pd.DataFrame, right: pd.DataFrame) -> None:
    """Same columns, index and order; text equal, floats equal to the bit (NaN where NaN, -0.0 apart)."""
    assert list(left.columns) == list(right.columns) and left.index.equals(right.index)
    for column in left.columns:
        if column.endswith("_contribution"):
            np.testing.assert_array_equal(left[column].to_numpy(dtype=float).view(np.uint64),
                                          right[column].to_numpy(dtype=float).view(np.uint64))
        else:
            assert left[column].tolist() == right[column].tolist(), column


@pytest.mark.parametrize("version", [2, 3, 4])
def test_threads_explain_and_predict_exactly_what_one_thread_does(population, fits, monkeypatch, version):
    """Batches explained at once, each in a thread of the pool, give the one-thread result to the bit
    and in order: nothing one batch computes is seen by another (v3/v4: ForestOcclusion.for_batch)."""
    import threading

    import ltv.user_value.explanations as explanations

    _, latest = population
    users = _prepare(latest, version, "latest").set_axis(np.arange(len(latest)) * 3 + 1)  # an index of its own
    state = fits[version].state
    one_explained, one_predicted = explain_and_predict(version, state, users, HORIZON_DAYS, batch_rows=41, threads=1)
    assert len(users) > 10 * 41 and one_explained["driver_1"].notna().sum() > len(users) / 2

    explaining_threads = set()
    explain_batch = explanations._contributions_and_predictions

    def recorded(*arguments, **keywords):
        explaining_threads.add(threading.current_thread().name)
        return explain_batch(*arguments, **keywords)

    monkeypatch.setattr(explanations, "_contributions_and_predictions", recorded)
    for threads in (2, 3):
        explained, predicted = explain_and_predict(version, state, users, HORIZON_DAYS, batch_rows=41, threads=threads)
        _assert_bitwise_equal(explained, one_explained)
        np.testing.assert_array_equal(predicted.view(np.uint64), one_predicted.view(np.uint64))
    assert explaining_threads and all(name.startswith("ltv-explain") for name in explaining_threads)


def test_small_frames_and_v1_are_explained_in_one_thread(monkeypatch):
    import ltv.user_value.explanations as explanations

    monkeypatch.setattr(explanations, "available_cores", lambda: 16)
    minimum = explanations.EXPLANATION_THREADS_MIN_ROWS
    assert explanations.explanation_threads(3, minimum - 1) == 1
    assert explanations.explanation_threads(1, 10 * minimum) == 1
    assert explanations.explanation_threads(3, minimum) == explanations.EXPLANATION_THREADS_MAX == 4
    monkeypatch.setattr(explanations, "available_cores", lambda: 2)
    assert explanations.explanation_threads(4, minimum) == 2


# --------------------------------------------------------------------------------------------------
# Versions that did not fit, and explanations that fail
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", [1, 2, 3, 4])
def test_an_unfitted_version_explains_nothing_rather_than_zero(population, version):
    _, latest = population
    users = _prepare(latest, version, "latest").head(5)
    for state in (None, {"model": object()}):  # not fitted; fitted before explanations existed
        explained = explain_user_value(version, state, users, HORIZON_DAYS)
        assert list(explained.columns) == list(EXPLANATION_COLUMNS) and len(explained) == 5
        assert explained.isna().all().all()


@pytest.mark.parametrize("version", [2, 3])
def test_a_failed_explanation_keeps_the_predictions(population, fits, monkeypatch, version):
    import ltv.user_value.fitting as fitting

    _, latest = population
    fit = fits[version]
    expected, _ = score_user_value(fit, latest)

    def broken(version, state, frame, horizon_days):
        raise RuntimeError("probe")

    monkeypatch.setattr(fitting, "explain_and_predict", broken)
    predictions, run = score_user_value(fit, latest)
    pd.testing.assert_series_equal(predictions["predicted_spend"], expected["predicted_spend"])
    assert predictions[list(EXPLANATION_COLUMNS)].isna().all().all()
    assert "drivers not explained: RuntimeError: probe" in run["message"]


@pytest.mark.parametrize("version", [2, 3, 4])
def test_the_explanation_predicts_exactly_what_the_version_predicts(population, fits, version):
    """Scoring takes v3's and v4's predicted spend from the explanation's unoccluded pass."""
    _, latest = population
    users = _prepare(latest, version, "latest")
    _, predicted = explain_and_predict(version, fits[version].state, users, HORIZON_DAYS, batch_rows=333)
    np.testing.assert_array_equal(predicted, _predict(version, fits[version].state, users, HORIZON_DAYS)[
        "predicted_spend"].to_numpy())


def test_too_few_users_give_the_explanation_columns_empty(population):
    at_cutoff, latest = population
    predictions, run = predict_user_value(at_cutoff.head(10), latest, 3, horizon_days=HORIZON_DAYS)
    assert run["status"] == "skipped" and predictions.empty
    assert set(EXPLANATION_COLUMNS) <= set(predictions.columns)


# --------------------------------------------------------------------------------------------------
# The demo build: the served view carries the drivers, documented
# --------------------------------------------------------------------------------------------------


def test_the_served_view_explains_every_prediction_with_real_feature_names(demo_connection):
    served = demo_connection.sql("select * from fct_user_value_predictions").df()
    assert len(served) > 0 and served["predicted_spend"].notna().all()
    assert served["driver_1"].notna().all() and served["driver_1_contribution"].notna().all()
    features = {row[0] for row in demo_connection.sql(
        "select column_name from duckdb_columns() where table_name = 'int_user_features_latest'").fetchall()}
    champion = int(served["model_version"].iloc[0])
    for slot in (1, 2, 3):
        named = served[f"driver_{slot}"].dropna()
        assert set(named) <= set(EXPLAINED_FEATURES[champion]) <= features
        # A driver and its contribution are NULL together.
        assert (served[f"driver_{slot}"].isna() == served[f"driver_{slot}_contribution"].isna()).all()
    sizes = served[["driver_1_contribution", "driver_2_contribution", "driver_3_contribution"]].abs()
    assert (sizes["driver_1_contribution"] >= sizes["driver_2_contribution"].fillna(0)).all()
    assert (sizes["driver_2_contribution"].fillna(0) >= sizes["driver_3_contribution"].fillna(0)).all()


def test_every_version_table_and_the_served_view_document_every_column(demo_connection):
    columns = demo_connection.sql(
        "select table_name, column_name, data_type, comment from duckdb_columns() "
        "where table_name like 'fct_user_value_predictions%'").df()
    assert set(columns["table_name"]) == {"fct_user_value_predictions", *(f"fct_user_value_predictions_v{v}"
                                                                          for v in (1, 2, 3, 4))}
    assert columns["comment"].notna().all() and (columns["comment"].str.len() > 0).all()
    drivers = columns[columns["column_name"].isin(EXPLANATION_COLUMNS)]
    assert drivers.groupby("table_name").size().to_dict() == {name: 6 for name in set(columns["table_name"])}
    types = dict(zip(drivers["column_name"], drivers["data_type"], strict=False))
    assert types == {column: "DOUBLE" if column.endswith("_contribution") else "VARCHAR"
                     for column in EXPLANATION_COLUMNS}
    view_comment = demo_connection.sql(
        "select comment from duckdb_views() where view_name = 'fct_user_value_predictions'").fetchall()[0][0]
    assert "champion" in view_comment and "features that move" in view_comment


def test_v4_serving_the_plain_configuration_is_explained_like_the_others(population):
    """With fewer than 10 spenders v4 serves the plain RFM configuration (no stack, no trees to
    shortcut): its drivers are still the brute-force occlusion through v4's own predict."""
    at_cutoff, latest = population
    spend = at_cutoff["future_net_spend"].to_numpy(dtype=float)
    keep = np.zeros(len(spend), dtype=bool)
    keep[np.flatnonzero(spend > 0)[:6]] = True
    fit = fit_user_value(at_cutoff.assign(future_net_spend=np.where(keep, spend, 0.0)), 4,
                         horizon_days=HORIZON_DAYS)
    assert fit.state is not None and fit.state["model"] is None, "v4 should serve the plain configuration"
    users = _some_users(latest, 4)
    expected = _brute_force(4, fit, users)
    assert np.abs(expected).max() > 0
    np.testing.assert_allclose(feature_contributions(4, fit.state, users, HORIZON_DAYS), expected,
                               rtol=1e-9, atol=1e-9)
