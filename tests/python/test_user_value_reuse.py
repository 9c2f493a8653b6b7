"""v3 builds on v2's fit instead of fitting BG/NBD and Gamma-Gamma again: what it borrows must give
exactly what fitting them itself gives, only of the same training users, and through the registry
(ltv.dbt_entrypoints.value_models) only when reuse is on."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest
from test_user_value import HORIZON_DAYS, build_population

from ltv.dbt_entrypoints.value_models import user_value
from ltv.user_value import boosting, fit_user_value, score_user_value


@pytest.fixture(scope="module")
def population():
    return build_population(n_users=1500, seed=4)


@pytest.fixture(scope="module")
def v2_fit(population):
    return fit_user_value(population[0], 2, horizon_days=HORIZON_DAYS)


def _forbid_fitting_v2(monkeypatch):
    def refuse(train):
        raise AssertionError("v3 fitted v2 again")

    monkeypatch.setattr(boosting, "_fit_v2", refuse)


def test_v3_on_v2s_fit_equals_v3_fitting_v2_itself(population, v2_fit, monkeypatch):
    at_cutoff, latest = population
    expected_predictions, expected_run = score_user_value(fit_user_value(at_cutoff, 3, horizon_days=HORIZON_DAYS), latest)
    _forbid_fitting_v2(monkeypatch)
    borrowed = fit_user_value(at_cutoff, 3, horizon_days=HORIZON_DAYS, v2_fit=v2_fit)
    predictions, run = score_user_value(borrowed, latest)
    pd.testing.assert_frame_equal(predictions, expected_predictions)
    assert run == expected_run
    assert run["parameters"]["v2_parameters"]["r"] == v2_fit.run["parameters"]["r"]
    assert "explanation_baseline" not in borrowed.state["v2_state"]  # v2's own, not part of what v3 uses


def test_a_v2_fit_of_other_training_users_is_refused(population, v2_fit):
    at_cutoff, _ = population
    with pytest.raises(ValueError, match="same training users"):
        fit_user_value(at_cutoff, 3, horizon_days=HORIZON_DAYS, seed=7, v2_fit=v2_fit)
    with pytest.raises(ValueError, match="same training users"):
        fit_user_value(at_cutoff.iloc[10:], 3, horizon_days=HORIZON_DAYS, v2_fit=v2_fit)


def test_a_skipped_v2_fit_leaves_v3_to_fit_v2_itself(population):
    at_cutoff, latest = population
    skipped = fit_user_value(at_cutoff.head(30), 2, horizon_days=HORIZON_DAYS)
    assert skipped.state is None
    fit = fit_user_value(at_cutoff, 3, horizon_days=HORIZON_DAYS, v2_fit=skipped)
    assert fit.state["v2_state"] is not None


@pytest.fixture
def warehouse(population):
    at_cutoff, latest = population
    connection = duckdb.connect()
    connection.execute("create schema registry")
    connection.execute("create table registry.dbt_invocations (invocation_id varchar, started_at timestamp)")
    connection.execute("insert into registry.dbt_invocations values ('run-1', now())")
    connection.execute("""create table registry.fitted_models (model_name varchar, model_version varchar,
        training_fingerprint varchar, trained_at timestamp, model_bytes blob,
        primary key (model_name, model_version, training_fingerprint))""")
    connection.execute("""create table registry.model_run_log (run_id varchar primary key, model_name varchar,
        model_version varchar, method varchar, status varchar, message varchar, invocation_id varchar,
        trained_at timestamp, cutoff_date date, horizon_days integer, train_rows bigint, holdout_rows bigint,
        parameters_json json, metrics_json json)""")
    connection.register("at_cutoff_frame", at_cutoff.drop(columns="as_of_date"))
    connection.register("latest_frame", latest.drop(columns="as_of_date"))
    connection.execute("create table at_cutoff as select * from at_cutoff_frame")
    connection.execute("create table latest as select * from latest_frame")
    yield connection
    connection.close()


def _build(connection, version: int, reuse: bool) -> pd.DataFrame:
    settings = pd.DataFrame({"horizon_days": [HORIZON_DAYS], "holdout_share": [0.2], "random_seed": [42],
                             "min_labelled_users": [50], "reuse_unchanged_work": [reuse],
                             "cutoff_date": [pd.Timestamp("2024-06-24")], "scoring_date": [pd.Timestamp("2024-12-21")]})
    return user_value(connection, connection.table("at_cutoff"), connection.table("latest"), settings, version)


def _recorded_parameters(connection, version: int) -> dict:
    import json

    rows = connection.execute("select parameters_json from registry.model_run_log where model_version = ? "
                              "order by trained_at desc limit 1", [str(version)]).fetchall()
    return json.loads(rows[0][0])


def test_the_v3_model_takes_v2s_stored_fit_when_reuse_is_on(warehouse, monkeypatch):
    expected = _build(warehouse, 3, reuse=False)  # v3 fitting v2 itself: nothing stored for v2 yet
    v2 = _build(warehouse, 2, reuse=True)
    assert len(v2) > 0
    warehouse.execute("delete from registry.fitted_models where model_version = '3'")
    _forbid_fitting_v2(monkeypatch)
    borrowed = _build(warehouse, 3, reuse=True)
    pd.testing.assert_frame_equal(borrowed, expected)
    v2_parameters = {key: value for key, value in _recorded_parameters(warehouse, 2).items()
                     if key != "explanation_baseline"}
    assert _recorded_parameters(warehouse, 3)["v2_parameters"] == v2_parameters


def test_with_reuse_off_the_v3_model_takes_nothing_from_the_registry(warehouse, monkeypatch):
    _build(warehouse, 2, reuse=True)
    _forbid_fitting_v2(monkeypatch)
    with_reuse_off = _build(warehouse, 3, reuse=False)
    # v3 tried to fit v2 itself, was refused here, and so learned without v2's outputs.
    assert "v3 fitted v2 again" in _recorded_parameters(warehouse, 3)["v2_failure"]
    assert len(with_reuse_off) > 0


def test_a_stored_fit_unpacks_to_the_same_split_lookup_in_a_fraction_of_the_space(population, v2_fit):
    import pickle

    from ltv.build_cache import deserialize, serialize

    loaded = deserialize(serialize(v2_fit))
    pd.testing.assert_frame_equal(loaded.split_lookup, v2_fit.split_lookup)
    assert (loaded.version, loaded.run, loaded.baseline_run) == (v2_fit.version, v2_fit.run, v2_fit.baseline_run)
    plain = len(pickle.dumps(v2_fit.split_lookup, protocol=pickle.HIGHEST_PROTOCOL))
    assert len(serialize(v2_fit)) < plain / 2
    # A fit pickled before the lookup was packed (the frame itself in the pickle) still loads.
    old = object.__new__(type(v2_fit))
    old.__setstate__({**v2_fit.__dict__})
    pd.testing.assert_frame_equal(old.split_lookup, v2_fit.split_lookup)
    # A skipped fit's empty lookup too.
    skipped = fit_user_value(population[0].head(10), 2, horizon_days=HORIZON_DAYS)
    pd.testing.assert_frame_equal(deserialize(serialize(skipped)).split_lookup, skipped.split_lookup)
