"""The user-value branch on Spark equals DuckDB's (issue 20).

ml_user_value v1..v4 (fitted on the driver from the sample var ltv_spark_fit_sample_users bounds, which
on the demo's 2,000 users is every labelled user; scored and explained in the executors' Python
workers; value deciles as a Spark window), the contracted fct_user_value_predictions_v1..v4, the
version comparison, taken from the demo builds of both engines that every test file shares (spark_demo,
demo_warehouse), are compared row by row: the same keys, every number within 1e-6, and the runs they
recorded. Spark's Parquet tables are read back without Spark (the views over them, served, holdout and
back-test, are test_spark_parity's). Independently of DuckDB: Spark's deciles are recomputed here from its
own predictions, and a fit above the sample bound is checked on made-up users in a session of this process.
"""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pandas as pd
import pytest
from conftest import local_spark_session, requires_spark
from spark_comparison import assert_same_json, assert_same_keyed_rows

requires_spark()

TOLERANCE = 1e-6
V4_TAKES_V3S_ROWS = ": v3's rows, v4's final choice being v3 itself"
TABLES = {  # Spark's table folder -> (DuckDB relation, key columns)
    **{f"ml.db/ml_user_value_v{version}": (f"ml.ml_user_value_v{version}", ["user_id"]) for version in (1, 2, 3, 4)},
    **{f"main.db/fct_user_value_predictions_v{version}": (f"main.fct_user_value_predictions_v{version}", ["user_id"])
       for version in (1, 2, 3, 4)},
    # Its RMSEs are plain averages on Spark (DuckDB's sum in user order): they differ by 6e-15 relative.
    "main.db/fct_user_value_versions": ("main.fct_user_value_versions", ["model_version"]),
}


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    """The sampled fit runs in a session of this process, on made-up users."""
    session = local_spark_session(tmp_path_factory, "ltv-user-value-sample")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def user_value_on_both_engines(demo_warehouse, spark_demo):
    """(the DuckDB demo build, the Spark demo build's warehouse): the builds every test file shares."""
    return demo_warehouse, spark_demo / "warehouse"


def test_the_user_value_tables_on_spark_have_duckdbs_rows(user_value_on_both_engines):
    duckdb_path, warehouse = user_value_on_both_engines
    with duckdb.connect(str(duckdb_path), read_only=True) as connection:
        for folder, (table, keys) in TABLES.items():
            spark_frame = connection.sql(f"select * from read_parquet('{warehouse / folder}/*.parquet')").df()
            assert_same_keyed_rows(spark_frame, connection.sql(f"select * from {table}").df(), keys, table,
                                   TOLERANCE, min_rows=3)


def test_spark_deciles_rank_its_own_predictions(user_value_on_both_engines):
    """Independently of DuckDB: sorted by predicted_spend descending, then user_id, the k-th of n users
    (0-based) is in decile 10 - floor(10k / n), and every user of the latest features is scored."""
    duckdb_path, warehouse = user_value_on_both_engines
    with duckdb.connect(str(duckdb_path), read_only=True) as connection:
        users = connection.sql("select count(*) from intermediate.int_user_features_latest").fetchall()[0][0]
        for version in (1, 2, 3, 4):
            rows = connection.sql(f"""select user_id, predicted_spend, value_decile
                from read_parquet('{warehouse}/ml.db/ml_user_value_v{version}/*.parquet')""").fetchall()
            assert len(rows) == users == len({row[0] for row in rows})
            ordered = sorted(rows, key=lambda row: (-row[1], row[0]))
            assert [row[2] for row in ordered] == [10 - (10 * rank) // users for rank in range(users)], version


def test_spark_records_the_user_value_runs_duckdb_records(user_value_on_both_engines):
    duckdb_path, warehouse = user_value_on_both_engines
    query = """select model_version, method, status, message, train_rows, holdout_rows, cutoff_date, horizon_days,
                      parameters_json, metrics_json from {} where model_name = 'user_value' order by model_version"""
    with duckdb.connect(str(duckdb_path), read_only=True) as connection:
        expected = connection.sql(query.format("registry.model_run_log")).fetchall()
        recorded = connection.sql(query.format(
            f"read_parquet('{warehouse}/registry.db/model_run_log/*.parquet')")).fetchall()
    assert [row[0] for row in expected] == ["1", "2", "3", "4", "baseline_rfm_boosting"]
    # DuckDB's v4 serves v3's table when its final choice is v3 itself and says so; Spark, which reuses
    # nothing, scores the same rows itself (the rows are compared above).
    expected = [(*row[:3], row[3].removesuffix(V4_TAKES_V3S_ROWS), *row[4:]) for row in expected]
    assert [row[:-2] for row in recorded] == [row[:-2] for row in expected]
    for spark_row, duckdb_row in zip(recorded, expected, strict=True):
        for spark_json, duckdb_json in zip(spark_row[-2:], duckdb_row[-2:], strict=True):
            assert_same_json(json.loads(spark_json), json.loads(duckdb_json), TOLERANCE)


# --- Above the bound: a fixed sample is fitted, everyone is scored -------------------------------------


def _made_up_users(count: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(features at the cut-off with labels, latest features) for v1: spend grows with frequency and
    amount; every fifth user unlabelled, and 50 latest users unknown at the cut-off."""
    rng = np.random.default_rng(seed)
    ids = [f"u{number:05d}" for number in rng.permutation(count)]
    frequency = rng.poisson(2.0, count).astype(float)
    amount = rng.gamma(2.0, 20.0, count).round(2)
    activity = rng.integers(0, 365, count).astype(float)
    label = (frequency * amount * 0.3 + rng.normal(0, 5, count)).round(2)
    label[::5] = np.nan
    at_cutoff = pd.DataFrame({"user_id": ids, "activity": activity, "frequency": frequency, "amount": amount,
                              "future_net_spend": label})
    latest = at_cutoff.drop(columns="future_net_spend")
    newcomers = pd.DataFrame({"user_id": [f"n{number:03d}" for number in range(50)], "activity": 1.0,
                              "frequency": 0.0, "amount": 0.0})
    return at_cutoff, pd.concat([latest, newcomers], ignore_index=True)


def test_above_the_bound_the_fit_is_fitted_on_a_fixed_sample_and_everyone_is_scored(spark, monkeypatch):
    from ltv.engines import spark_user_value
    from ltv.engines.frames import SparkFrames
    from ltv.user_value import predict_user_value, value_deciles

    # Deciles ranked in five windows of predicted_spend ranges, as a shop of 5M users would be.
    monkeypatch.setattr(spark_user_value, "RANK_BUCKET_USERS", 300)

    at_cutoff, latest = _made_up_users(1500, seed=7)
    labelled = at_cutoff["future_net_spend"].notna()
    bound = 400
    frames = SparkFrames(spark)

    def build():
        table = spark_user_value.user_value(frames, spark.createDataFrame(at_cutoff), spark.createDataFrame(latest),
                                            {}, 1, None, bound)
        return table.toPandas().set_index("user_id").sort_index()

    spark_table = build()
    assert len(spark_table) == len(latest) and set(spark_table.index) == set(latest["user_id"])
    sampled = spark_table.index[spark_table["split"].isin(["train", "holdout"])]
    assert len(sampled) == bound and set(sampled) <= set(at_cutoff.loc[labelled, "user_id"])
    assert build().loc[sampled, "split"].equals(spark_table.loc[sampled, "split"])  # the same sample each build

    # Exactly what the DuckDB path computes when given only the sampled users to fit on.
    expected, _ = predict_user_value(at_cutoff[at_cutoff["user_id"].isin(sampled)], latest, version=1)
    expected = expected.set_index("user_id").sort_index()
    assert np.allclose(spark_table["predicted_spend"], expected["predicted_spend"], rtol=0, atol=1e-9)
    assert spark_table.loc[sampled, "split"].equals(expected.loc[sampled, "split"])
    assert np.allclose(spark_table.loc[sampled, "cutoff_predicted_spend"],
                       expected.loc[sampled, "cutoff_predicted_spend"])

    left_out = set(at_cutoff.loc[labelled, "user_id"]) & set(latest["user_id"]) - set(sampled)
    assert left_out and (spark_table.loc[sorted(left_out), "split"] == "not_sampled").all()
    assert spark_table.loc[sorted(left_out), ["cutoff_predicted_spend", "cutoff_actual_spend"]].isna().all().all()
    unlabelled = set(latest["user_id"]) - set(at_cutoff.loc[labelled, "user_id"])
    assert (spark_table.loc[sorted(unlabelled), "split"] == "scoring_only").all()
    deciles = value_deciles(spark_table.index, spark_table["predicted_spend"])
    assert (spark_table["value_decile"].to_numpy() == deciles).all()
