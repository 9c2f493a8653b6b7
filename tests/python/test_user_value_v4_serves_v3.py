"""v4 whose final choice is v3 itself (v3's recipe with v3's blend) serves v3: v3's own fit when it is
given (the dbt model takes it from the registry), else v3 fitted on every training user, and in the
dbt model v3's table instead of predicting and explaining the same users again. Every path must give
the rows the others give."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_user_value import HORIZON_DAYS, build_population
from test_user_value_choice import SMALL_GRID

from ltv import user_value as user_value_package
from ltv.dbt_entrypoints.value_models import user_value
from ltv.user_value import choice as choice_module
from ltv.user_value import fit_user_value, score_user_value
from ltv.user_value import tuned as tuned_module
from ltv.user_value.tuned import refit_sample


@pytest.fixture(scope="module")
def population():
    return build_population(n_users=1500, seed=4)


@pytest.fixture(scope="module")
def v3_fit(population):
    return fit_user_value(population[0], 3, horizon_days=HORIZON_DAYS)


@pytest.fixture
def v3_chosen(monkeypatch):
    """Nothing may replace the reference, so v4's final choice is v3 itself; a one-point grid."""
    monkeypatch.setattr(choice_module, "REPLACE_MARGIN_SE", np.inf)
    monkeypatch.setattr(tuned_module, "V4_GRID", SMALL_GRID)


def _forbid(monkeypatch, module, name: str):
    def refuse(*arguments, **keywords):
        raise AssertionError(f"{name} was called")

    monkeypatch.setattr(module, name, refuse)


def test_v4_on_v3s_fit_equals_v4_fitting_v3_itself_and_v3(population, v3_fit, v3_chosen, monkeypatch):
    at_cutoff, latest = population
    v3 = v3_fit
    refitted = fit_user_value(at_cutoff, 4, horizon_days=HORIZON_DAYS)
    assert refitted.state["serves_v3"] and refitted.state["fit_users"] == refitted.run["train_rows"]
    expected, expected_run = score_user_value(refitted, latest)
    _forbid(monkeypatch, tuned_module, "_fit_v3")
    borrowed = fit_user_value(at_cutoff, 4, horizon_days=HORIZON_DAYS, v3_fit=v3)
    assert borrowed.state["serves_v3"] and borrowed.state["model"] is v3.state["model"]
    pd.testing.assert_frame_equal(borrowed.split_lookup, refitted.split_lookup, check_exact=True)
    predictions, run = score_user_value(borrowed, latest)
    pd.testing.assert_frame_equal(predictions, expected, check_exact=True)
    assert run == expected_run
    # And v4 is v3, row for row, to the last bit.
    v3_predictions, v3_run = score_user_value(v3, latest)
    pd.testing.assert_frame_equal(predictions.drop(columns="model_version"),
                                  v3_predictions.drop(columns="model_version"), check_exact=True)
    assert run["metrics"] == v3_run["metrics"]


def test_a_v3_fit_of_other_training_users_is_refused(population, v3_fit):
    at_cutoff, _ = population
    with pytest.raises(ValueError, match="v3_fit is not v3's fit of the same training users"):
        fit_user_value(at_cutoff, 4, horizon_days=HORIZON_DAYS, seed=7, v3_fit=v3_fit)


def test_another_choice_is_refitted_on_the_sample_and_v3s_fit_unused(population, v3_fit, monkeypatch):
    at_cutoff, _ = population
    monkeypatch.setattr(tuned_module, "V4_GRID", SMALL_GRID)
    chosen = tuned_module.choose

    def learned_weight(*arguments):
        # v3's trees with another blend: not v3 itself.
        return {**chosen(*arguments), "blend": choice_module.LEARNED_WEIGHT, "tree_weight": 0.75, "scale": 1.0}

    monkeypatch.setattr(tuned_module, "choose", learned_weight)
    fit = fit_user_value(at_cutoff, 4, horizon_days=HORIZON_DAYS, v3_fit=v3_fit)
    assert fit.run["parameters"]["final_choice"]["candidate"] == "v3_recipe"
    assert not fit.state["serves_v3"] and fit.state["model"] is not v3_fit.state["model"]
    assert fit.state["weights"] == {"tree_weight": 0.75, "scale": 1.0}


def test_the_refit_sample_is_seeded_bounded_and_everyone_below_the_bound(population, monkeypatch):
    at_cutoff, _ = population
    train = at_cutoff.sort_values("user_id").reset_index(drop=True)
    assert refit_sample(train, 42).equals(train)
    monkeypatch.setattr(tuned_module, "V4_MAX_FIT_USERS", 500)
    sample = refit_sample(train, 42)
    assert len(sample) == 500 and sample.equals(refit_sample(train, 42))
    assert sample["user_id"].is_monotonic_increasing and set(sample["user_id"]) <= set(train["user_id"])
    assert not sample.equals(refit_sample(train, 43))


@pytest.fixture
def warehouse(population):
    from test_user_value_reuse import warehouse as reuse_warehouse

    generator = reuse_warehouse.__wrapped__(population)
    connection = next(generator)
    connection.execute("""create table registry.output_fingerprints (relation_name varchar primary key,
        fingerprint varchar, invocation_id varchar, confirmed boolean, recorded_at timestamp)""")
    yield connection
    generator.close()


def _build(connection, version: int, reuse: bool) -> pd.DataFrame:
    settings = pd.DataFrame({"horizon_days": [HORIZON_DAYS], "holdout_share": [0.2], "random_seed": [42],
                             "min_labelled_users": [50], "reuse_unchanged_work": [reuse],
                             "cutoff_date": [pd.Timestamp("2024-06-24")], "scoring_date": [pd.Timestamp("2024-12-21")]})
    rows = user_value(connection, connection.table("at_cutoff"), connection.table("latest"), settings, version,
                      this="main.v3_rows" if version == 3 else None, v3_table="main.v3_rows" if version == 4 else None)
    if version == 3:  # what dbt and the model's post-hook do
        connection.register("v3_frame", rows)
        connection.execute("create or replace table main.v3_rows as select * from v3_frame")
        connection.execute("update registry.output_fingerprints set confirmed = true where relation_name = 'main.v3_rows'")
    return rows


def test_the_v4_model_takes_v3s_fit_and_table_and_gives_the_rows_it_would_compute(warehouse, v3_chosen, monkeypatch):
    expected = _build(warehouse, 4, reuse=False)  # v4 fitting v3 itself and scoring every user
    for version in (2, 3):
        _build(warehouse, version, reuse=True)
    warehouse.execute("delete from registry.fitted_models where model_version = '4'")
    _forbid(monkeypatch, tuned_module, "_fit_v3")
    _forbid(monkeypatch, user_value_package, "score_user_value")
    served = _build(warehouse, 4, reuse=True)
    pd.testing.assert_frame_equal(served, expected, check_exact=True, check_dtype=False)
    message = warehouse.execute("select message from registry.model_run_log where model_version = '4' "
                                "order by trained_at desc limit 1").fetchall()[0][0]
    assert message.endswith("v3's rows, v4's final choice being v3 itself")


def test_a_v3_table_of_other_latest_features_is_not_taken(warehouse, v3_chosen, monkeypatch):
    for version in (2, 3):
        _build(warehouse, version, reuse=True)
    # The latest features changed after v3's table was written (v4 built alone, say).
    warehouse.execute("update latest set net_spend = net_spend + 1 where user_id = (select min(user_id) from latest)")
    expected = _build(warehouse, 4, reuse=False)
    served = _build(warehouse, 4, reuse=True)
    pd.testing.assert_frame_equal(served, expected, check_exact=True)
    message = warehouse.execute("select message from registry.model_run_log where model_version = '4' "
                                "order by trained_at desc limit 1").fetchall()[0][0]
    assert "v3's rows" not in message
