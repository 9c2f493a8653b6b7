"""The bundled demo, built with `dbt build` (every model, data test and unit test) into a fresh
file, checked against values computed independently from the seed CSV files."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from conftest import INTERNAL_SCHEMAS, MODEL_SCHEMAS, PUBLIC_SCHEMA, SEEDS_DIR

RAW_TABLES = ["users", "items", "orders", "order_items", "events", "reviews", "support_conversations"]


def latest_runs(connection, model_name: str) -> pd.DataFrame:
    return connection.sql(f"""
        select * from fct_model_runs
        where model_name = '{model_name}'
        qualify row_number() over (partition by model_version, method order by trained_at desc) = 1
    """).df()


def test_raw_and_staging_tables_hold_every_seed_row(demo_connection):
    for table in RAW_TABLES:
        seed_rows = len(pd.read_csv(SEEDS_DIR / f"{table}.csv"))
        raw_rows = demo_connection.sql(f"select count(*) from raw.{table}").fetchall()[0][0]
        staged = demo_connection.sql(f"select count(*) from staging.stg_shop__{table}").fetchall()[0][0]
        quarantined = demo_connection.sql(
            f"select count(*) from main.quarantine_rows where source_table = '{table}'").fetchall()[0][0]
        assert raw_rows == seed_rows
        assert staged + quarantined == seed_rows


def test_latest_features_match_an_independent_pandas_computation(demo_connection):
    users = pd.read_csv(SEEDS_DIR / "users.csv", parse_dates=["signed_up_at"])
    orders = pd.read_csv(SEEDS_DIR / "orders.csv", parse_dates=["ordered_at"])
    lines = pd.read_csv(SEEDS_DIR / "order_items.csv")
    events = pd.read_csv(SEEDS_DIR / "events.csv", parse_dates=["occurred_at"])
    reviews = pd.read_csv(SEEDS_DIR / "reviews.csv", parse_dates=["created_at"])
    as_of = orders["ordered_at"].dt.normalize().max()

    lines["amount"] = lines["quantity"] * lines["unit_price"]
    order_amounts = lines.groupby("order_id")["amount"].sum()
    completed = orders[orders["status"] == "completed"].copy()
    completed["amount"] = completed["order_id"].map(order_amounts).fillna(0)
    completed["day"] = completed["ordered_at"].dt.normalize()
    per_user = completed.groupby("user_id").agg(first_day=("day", "min"), orders=("order_id", "count"),
                                                spend=("amount", "sum"))
    activity_days = pd.concat([
        users.set_index("user_id")["signed_up_at"],
        orders.set_index("user_id")["ordered_at"],
        events.set_index("user_id")["occurred_at"],
        reviews.set_index("user_id")["created_at"],
    ]).dt.normalize()
    last_activity = activity_days[activity_days <= as_of].groupby(level=0).max()

    expected = users.loc[users["signed_up_at"].dt.normalize() <= as_of, ["user_id"]].set_index("user_id")
    expected = expected.join(per_user).join(last_activity.rename("last_activity"))
    days_since_first = (as_of - expected["first_day"]).dt.days
    expected["activity"] = 1.0 / ((as_of - expected["last_activity"]).dt.days + 1)
    expected["frequency"] = (expected["orders"] / (days_since_first + 1)).fillna(0.0)
    expected["amount"] = (expected["spend"] / (days_since_first + 1)).fillna(0.0)
    expected["net_spend"] = expected["spend"].fillna(0.0)
    expected["completed_orders"] = expected["orders"].fillna(0).astype(int)

    actual = demo_connection.sql(
        "select user_id, activity, frequency, amount, net_spend, completed_orders from intermediate.int_user_features_latest"
    ).df().set_index("user_id").sort_index()
    expected = expected.sort_index()
    assert list(actual.index) == list(expected.index)
    for column in ["activity", "frequency", "amount", "net_spend"]:
        np.testing.assert_allclose(actual[column], expected[column], rtol=1e-9, atol=1e-9, err_msg=column)
    assert (actual["completed_orders"] == expected["completed_orders"]).all()


def test_value_registry_ranks_v3_first_and_every_version_beats_the_mean(demo_connection):
    runs = latest_runs(demo_connection, "user_value").set_index("model_version")
    # v4's build also records the plain boosting baseline (never served) as a row of its own.
    assert set(runs.index) == {"1", "2", "3", "4", "baseline_rfm_boosting"}
    assert (runs["status"] == "fitted").all()
    for metric in ["normalized_gini", "top20_capture"]:
        assert runs.loc["3", metric] >= runs.loc["2", metric], metric
        assert runs.loc["3", metric] >= runs.loc["1", metric], metric
    assert (runs["rmse"] < runs["baseline_rmse"]).all(), runs[["rmse", "baseline_rmse"]]


def test_holdout_metrics_in_the_registry_match_the_holdout_rows(demo_connection):
    from ltv.metrics import value_metrics

    runs = latest_runs(demo_connection, "user_value").set_index("model_version")
    holdout = demo_connection.sql("select * from fct_user_value_holdout").df()
    for version, rows in holdout.groupby("model_version"):
        recomputed = value_metrics(rows["actual_spend"].to_numpy(), rows["predicted_spend"].to_numpy())
        assert recomputed["rmse"] == pytest.approx(runs.loc[str(version), "rmse"], rel=1e-9)
        assert recomputed["rows"] == runs.loc[str(version), "holdout_rows"]


def test_behaviour_recommendations_beat_popularity_on_ndcg(demo_connection):
    runs = latest_runs(demo_connection, "item_similarity")
    ndcg = dict(zip(runs["method"], runs["ndcg_at_10"], strict=True))
    assert ndcg["cosine"] > ndcg["popularity"]
    assert ndcg["bm25"] > ndcg["popularity"]


def test_supervised_sentiment_beats_textblob_and_fitted_experience_beats_fixed_weights(demo_connection):
    sentiment = latest_runs(demo_connection, "text_sentiment").set_index("model_version")
    for metric in ["auc_positive_vs_negative", "spearman_with_rating"]:
        assert sentiment.loc["2", metric] > sentiment.loc["1", metric], metric
    experience = latest_runs(demo_connection, "conversation_experience").set_index("model_version")
    assert experience.loc["2", "mse"] < experience.loc["1", "mse"]


def test_textblob_scores_in_the_warehouse_equal_textblob(demo_connection):
    from textblob import TextBlob

    rows = demo_connection.sql("""
        select masked_text, polarity, subjectivity from fct_text_sentiment
        where model_version = 1 and masked_text is not null
        order by text_source, source_id limit 300
    """).fetchall()
    assert rows
    for text, polarity, subjectivity in rows:
        assert (polarity, subjectivity) == tuple(TextBlob(text).sentiment)


def test_every_user_has_one_row_with_a_segment_and_the_summary_adds_up(demo_connection):
    users = demo_connection.sql("select count(*) from staging.stg_shop__users").fetchall()[0][0]
    dim = demo_connection.sql("select count(*), count(distinct user_id), count(segment) from dim_users").fetchall()[0]
    assert dim == (users, users, users)
    assert demo_connection.sql("select sum(users) from fct_segment_summary").fetchall()[0][0] == users
    assert demo_connection.sql("select sum(share_of_users) from fct_segment_summary").fetchall()[0][0] == pytest.approx(1.0)


def test_a_texts_sentiment_rows_are_stored_next_to_each_other(demo_connection):
    # fct_text_sentiment's order (its rows by text, then version) is what stores each masked text once
    # per block instead of once per version: the large shop's largest public table, 436 -> 267 MB.
    rows = demo_connection.sql(
        "select text_source, source_id, model_version from fct_text_sentiment order by rowid").fetchall()
    assert len(rows) > 1000
    assert rows == sorted(rows)


def test_no_personal_data_reaches_public_text(demo_connection):
    email = re.compile(r"[\w.+-]+@[\w-]+\.[a-z]{2,}", re.IGNORECASE)
    card = re.compile(r"\b\d{4}[ -]?\d{4}[ -]?\d{4}[ -]?\d{4}\b")
    texts = [row[0] for row in demo_connection.sql(
        "select masked_text from fct_text_sentiment where masked_text is not null").fetchall()]
    assert not [text for text in texts if email.search(text) or card.search(text)]
    raw_texts = [row[0] for row in demo_connection.sql(
        "select comment from staging.stg_shop__reviews where comment is not null union all "
        "select message from staging.stg_shop__support_conversations where message is not null").fetchall()]
    assert any(email.search(text) for text in raw_texts), "the demo should contain e-mails to mask"


def test_the_warehouse_holds_only_the_projects_relations(demo_warehouse, demo_connection):
    """Helpers of the Python models (views, staging tables) leave nothing behind for BI to find."""
    import json

    manifest = json.loads((demo_warehouse.parent / "target" / "manifest.json").read_text())
    nodes = manifest["nodes"].values()
    built = {(node["schema"], node["alias"]) for node in nodes if node["resource_type"] in ("model", "seed")}
    # Versioned models also get an unsuffixed view of their latest version, in the same schema.
    built |= {(node["schema"], node["name"]) for node in nodes if node.get("version") is not None}
    relations = set(demo_connection.execute(
        "select table_schema, table_name from information_schema.tables where table_catalog = current_database() "
        f"and table_schema in ({', '.join(repr(schema) for schema in (*MODEL_SCHEMAS, 'raw'))})").fetchall())
    assert relations - built == set()


def relations_by_schema(connection) -> dict[str, set[str]]:
    rows = connection.execute(
        "select table_schema, table_name from information_schema.tables where table_catalog = current_database()").fetchall()
    found: dict[str, set[str]] = {}
    for schema, name in rows:
        found.setdefault(schema, set()).add(name)
    return found


def test_main_holds_only_the_public_relations_and_each_internal_family_its_own_schema(
        demo_warehouse, demo_connection, monkeypatch):
    """Issue 19 item 2: whoever opens the build warehouse finds the public tables alone in main."""
    from conftest import PROJECT_DIR

    from ltv.publish import public_models

    monkeypatch.setenv("DBT_TARGET_PATH", str(demo_warehouse.parent / "target"))
    relations = relations_by_schema(demo_connection)
    # main: exactly what `ltv publish` serves (the public models, their unsuffixed views, quarantine_rows).
    assert relations[PUBLIC_SCHEMA] == {*public_models(PROJECT_DIR), "quarantine_rows"}
    assert [name for name in relations[PUBLIC_SCHEMA] if name.startswith(tuple(INTERNAL_SCHEMAS))] == []
    for prefix, schema in INTERNAL_SCHEMAS.items():
        family = {(where, name) for where, names in relations.items() for name in names if name.startswith(prefix)}
        assert family and {where for where, _ in family} == {schema}, prefix
    for schema in set(INTERNAL_SCHEMAS.values()):
        prefixes = tuple(prefix for prefix, where in INTERNAL_SCHEMAS.items() if where == schema)
        assert [name for name in relations[schema] if not name.startswith(prefixes)] == [], schema
    # A fresh warehouse has nothing of the old layout to drop.
    assert "ltv: dropped" not in (demo_warehouse.parent / "logs" / "dbt.log").read_text()


def test_a_build_over_a_warehouse_of_the_old_layout_drops_the_internals_left_in_main(demo_warehouse, tmp_path):
    """A warehouse built before the staging, intermediate and ml schemas has its internals in main;
    the next build, whatever it selects, drops them there (and the registry's notes about them)."""
    import shutil

    import duckdb
    from conftest import dbt_environment, run_dbt

    warehouse = tmp_path / "old_layout.duckdb"
    shutil.copy2(demo_warehouse, warehouse)
    connection = duckdb.connect(str(warehouse))
    try:
        public_before = relations_by_schema(connection)[PUBLIC_SCHEMA]
        # What an older ltv left in main: tables and views of each family, the unsuffixed view on an
        # ml_ model's latest version, an incremental model's leftover staging table, registry notes.
        connection.execute("""
            create table main.base_shop__users as select * from staging.base_shop__users;
            create view main.stg_shop__users as select * from main.base_shop__users;
            create table main.int_orders_summarized as select * from intermediate.int_orders_summarized;
            create table main.ml_user_value_v4 as select * from ml.ml_user_value_v4;
            create view main.ml_user_value as select * from main.ml_user_value_v4;
            create table main.ml_text_sentiment_v2__dbt_tmp20260101000000 as select 1 as leftover;
            insert into registry.output_fingerprints
                values ('main.base_shop__users', 'old', null, true, current_timestamp::timestamp);
            insert into registry.changed_keys_state
                values ('main.int_orders_summarized', 'old', 'old', null, null, current_timestamp::timestamp);
        """)
    finally:
        connection.close()

    # With an incremental Python model too: dbt-duckdb writes its new rows to a table in main, which
    # its post-hook must find there although the model is built in ml.
    result = run_dbt(["build", "--select", "int_orders_summarized", "ml_text_sentiment"],
                     dbt_environment(warehouse, tmp_path))
    assert "ltv: dropped 6 internal relations that an earlier ltv built in main" in result.stdout

    connection = duckdb.connect(str(warehouse), read_only=True)
    try:
        relations = relations_by_schema(connection)
        notes = connection.execute(
            "select relation_name from registry.output_fingerprints union all "
            "select relation_name from registry.changed_keys_state").fetchall()
    finally:
        connection.close()
    assert relations[PUBLIC_SCHEMA] == public_before  # the public relations are left alone, nothing added
    assert {"int_orders_summarized", "int_model_settings"} <= relations["intermediate"]
    assert {"base_shop__users", "stg_shop__users"} <= relations["staging"]
    assert {"ml_user_value", "ml_user_value_v4"} <= relations["ml"]
    assert [name for (name,) in notes if name.startswith(f"{PUBLIC_SCHEMA}.")] == []
    assert "intermediate.int_orders_summarized" in {name for (name,) in notes}


def test_unsuffixed_names_point_at_the_latest_version_or_the_champion(demo_connection):
    # The unsuffixed view on a Python model's latest version sits beside the versions, in ml.
    views = dict(demo_connection.sql(
        "select view_name, sql from duckdb_views() where schema_name = 'ml'").fetchall())
    assert "ml_item_similarities_v3" in views["ml_item_similarities"]
    # User value serves the champion chosen on the holdout, with the columns every version shares.
    champion = demo_connection.sql("select model_version from fct_user_value_versions where is_champion").fetchall()[0][0]
    served = demo_connection.sql("select * from fct_user_value_predictions order by user_id").df()
    columns = ", ".join(served.columns)
    version = demo_connection.sql(f"select {columns} from fct_user_value_predictions_v{champion} order by user_id").df()
    pd.testing.assert_frame_equal(served, version)


def test_public_marts_carry_their_documentation_into_the_catalog(demo_connection):
    table_comment = demo_connection.sql(
        "select comment from duckdb_tables() where table_name = 'dim_users'").fetchall()[0][0]
    assert table_comment and "segment" in table_comment
    column_comment = demo_connection.sql(
        "select comment from duckdb_columns() where table_name = 'fct_user_recommendations' "
        "and column_name = 'because_item_id'").fetchall()[0][0]
    assert column_comment and "contributes most" in column_comment
    # The served view of the champion carries documentation too (a hook creates it, not persist_docs).
    view_comment = demo_connection.sql(
        "select comment from duckdb_views() where view_name = 'fct_user_value_predictions'").fetchall()[0][0]
    assert "champion" in view_comment
    served_columns = dict(demo_connection.sql(
        "select column_name, comment from duckdb_columns() where table_name = 'fct_user_value_predictions'").fetchall())
    assert all(served_columns.values()) and set(served_columns) == {
        "user_id", "model_version", "predicted_spend", "value_decile", "features_as_of_date",
        "driver_1", "driver_1_contribution", "driver_2", "driver_2_contribution", "driver_3", "driver_3_contribution"}


def test_a_model_quality_regression_of_more_than_ten_percent_warns(demo_warehouse, tmp_path):
    import shutil

    import duckdb
    from conftest import dbt_environment, run_dbt

    warehouse = tmp_path / "copy.duckdb"
    shutil.copy2(demo_warehouse, warehouse)
    connection = duckdb.connect(str(warehouse))
    for run_id, trained_at, rmse in [("older", "2026-01-01", 100.0), ("newer", "2026-02-01", 115.0)]:
        connection.execute(
            "insert into registry.model_run_log (run_id, model_name, model_version, status, trained_at, metrics_json) "
            "values (?, 'regression_probe', '1', 'fitted', ?, ?)",
            [run_id, trained_at, f'{{"rmse": {rmse}, "normalized_gini": 0.5}}'])
    connection.close()
    result = run_dbt(["build", "--select", "fct_model_runs", "assert_model_quality_not_regressed"],
                     dbt_environment(warehouse, tmp_path))
    assert "WARN 1 assert_model_quality_not_regressed" in result.stdout


def test_the_served_user_value_is_the_champion_measured_like_the_registry(demo_connection):
    versions = demo_connection.sql("select * from fct_user_value_versions order by model_version").df()
    runs = latest_runs(demo_connection, "user_value").set_index("model_version")
    # The SQL measures of this build's holdout equal the metrics the Python fits recorded.
    for row in versions.itertuples():
        run = runs.loc[str(row.model_version)]
        assert row.holdout_rmse == pytest.approx(run.rmse, rel=1e-9)
        assert row.baseline_rmse == pytest.approx(run.baseline_rmse, rel=1e-9)
        assert row.holdout_normalized_gini == pytest.approx(run.normalized_gini, rel=1e-9)
        assert row.holdout_top20_capture == pytest.approx(run.top20_capture, rel=1e-9)
        assert row.beats_baseline == (run.rmse < run.baseline_rmse)
    # The champion: lowest holdout RMSE among the versions that beat the training mean.
    candidates = versions[versions.beats_baseline & (versions.scored_users > 0)]
    champion = int(candidates.sort_values(["holdout_rmse", "model_version"]).model_version.iloc[0])
    assert versions.set_index("model_version").is_champion.to_dict() == {v: v == champion for v in (1, 2, 3, 4)}
    served = demo_connection.sql("select model_version, count(*) from fct_user_value_predictions group by 1").fetchall()
    users = demo_connection.sql("select count(*) from intermediate.int_user_features_latest").fetchall()[0][0]
    assert served == [(champion, users)]
    assert demo_connection.sql("select distinct value_model_version from dim_users "
                               "where predicted_spend is not null").fetchall() == [(champion,)]
    assert demo_connection.sql("select model_version from fct_model_runs where is_champion").fetchall() == [(str(champion),)]


def test_the_served_recommendations_are_the_champion_similarity_versions(demo_connection):
    evaluation = demo_connection.sql(
        "select model_version::integer as version, ndcg_at_10, beats_baseline, metric_status "
        "from ml.ml_recommendation_evaluation where model_version in ('1', '2', '3')").df()
    qualified = evaluation[(evaluation.metric_status == "ok") & evaluation.beats_baseline.astype(bool)]
    champion = int(qualified.sort_values(["ndcg_at_10", "version"], ascending=[False, True]).version.iloc[0])
    assert demo_connection.sql("select model_version from fct_recommendation_versions where is_champion").fetchall() \
        == [(champion,)]
    columns = "user_id, rank, item_id, score, because_item_id, is_fallback"
    served = demo_connection.sql(f"select {columns} from fct_user_recommendations order by all").df()
    version = demo_connection.sql(f"select {columns} from fct_user_recommendations_v{champion} order by all").df()
    pd.testing.assert_frame_equal(served, version)
    assert demo_connection.sql("select distinct model_version from intermediate.int_item_similarities_served").fetchall() \
        == [(champion,)]

