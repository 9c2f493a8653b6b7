"""ml_recommendation_tuning and ml_recommendation_evaluation on Spark: each runs the DuckDB build's own
code (ltv.dbt_entrypoints.recommendation_offline) on the driver, over a bounded sample of the shop
collected from Spark into a DuckDB in memory there. So does the fit of ml_item_similarities v3 (a
sample, too). (ml_item_content_similarities is distributed: ltv.engines.spark_content.)

The sample is every row of at most max_users users: the first by md5(random_seed:user_id), the rule
the evaluation already draws its test users by. A shop with no more users than that is collected
whole, so the tables equal the DuckDB build's (the demo); above it the fits see the sampled users'
rows only, where the DuckDB build sees all of them: a sampled fit, which is what may legitimately
differ by engine. Tuning fits on at most TUNING_MAX_TRAIN_USERS users on either engine.

The runs the code records go to the DuckDB in memory first and are then recorded in Spark's registry
(frames.record_run), the same rows.
"""

from __future__ import annotations

import json

# pandas at module top: Spark checks a pandas function's signature against the names in its module.
import pandas as pd

from ltv import registry

# var ltv_spark_recommendation_sample_users' default: the most users whose rows the evaluation collects
# (its fits see them all) and whose rows v3's item weights are fitted on. The DuckDB build uses every user.
DEFAULT_SAMPLE_USERS = 200_000


def sampled_rows(rows, seed: int, max_users: int):
    """(rows of the first max_users users by md5('seed:user_id'), then user_id; whether that is a
    sample): all the rows when there are no more users."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    users = rows.select("user_id").where("user_id is not null").distinct()
    if users.count() <= max_users:
        return rows, False
    draw = F.md5(F.concat(F.lit(f"{int(seed)}:"), F.col("user_id")))
    chosen = users.withColumn("draw", F.row_number().over(Window.orderBy(draw, F.col("user_id")))).where(
        F.col("draw") <= max_users).select("user_id")
    return rows.join(F.broadcast(chosen), "user_id").select(*rows.columns), True


def _driver_duckdb(frames, tables: dict):
    """A DuckDB in memory with each Spark DataFrame of `tables` (bounded ones) as a table, and the
    registry tables the recording code writes to, stamped with this build's invocation."""
    import duckdb

    connection = duckdb.connect()
    for name, frame in tables.items():
        arrow = frame.toArrow()
        connection.register(f"{name}_arrow", arrow)
        connection.execute(f"create table {name} as select * from {name}_arrow")
        connection.unregister(f"{name}_arrow")
    invocation = frames.session.sql(
        f"select invocation_id from {registry.INVOCATIONS_TABLE} order by started_at desc limit 1").collect()
    connection.execute("create schema registry")
    connection.execute(f"""create table {registry.RUN_LOG_TABLE} (run_id varchar, model_name varchar,
        model_version varchar, method varchar, status varchar, message varchar, invocation_id varchar,
        trained_at timestamp, cutoff_date date, horizon_days integer, train_rows bigint, holdout_rows bigint,
        parameters_json varchar, metrics_json varchar)""")
    connection.execute(f"create table {registry.INVOCATIONS_TABLE} (invocation_id varchar, started_at timestamp)")
    connection.execute(f"insert into {registry.INVOCATIONS_TABLE} values (?, now()::timestamp)",
                       [invocation[0][0] if invocation else None])
    return connection


def _recorded_in_spark(frames, connection) -> None:
    """The runs recorded in the driver's DuckDB, recorded again in Spark's registry, in their order."""
    runs = connection.sql(f"""select model_name, model_version, method, status, message, train_rows, holdout_rows,
                                     cutoff_date, horizon_days, parameters_json, metrics_json
                              from {registry.RUN_LOG_TABLE} order by trained_at, rowid""").fetchall()
    for (name, version, method, status, message, train_rows, holdout_rows, cutoff_date, horizon_days, parameters,
         metrics) in runs:
        run = {"model_name": name, "model_version": version, "method": method, "status": status, "message": message,
               "train_rows": train_rows, "holdout_rows": holdout_rows, "parameters": json.loads(parameters),
               "metrics": json.loads(metrics)}
        frames.record_run(run, cutoff_date=cutoff_date, horizon_days=horizon_days)


def recommendation_tuning(frames, interactions, settings_frame: pd.DataFrame) -> pd.DataFrame:
    """ml_recommendation_tuning on the driver, from the tuning rows of a bounded sample of users."""
    from ltv.dbt_entrypoints import recommendation_offline
    from ltv.recommendation_tuning import TUNING_MAX_TRAIN_USERS

    settings = frames.settings(settings_frame)
    rows, _ = sampled_rows(interactions.where(recommendation_offline.TUNING_ROWS),
                           int(settings.get("random_seed") or 0), TUNING_MAX_TRAIN_USERS)
    with _driver_duckdb(frames, {"tuning_rows": rows}) as connection:
        table = recommendation_offline.recommendation_tuning(connection, connection.table("tuning_rows"),
                                                             settings_frame)
        _recorded_in_spark(frames, connection)
    return table


def recommendation_evaluation(frames, interactions, items, content_similarities, tuning,
                              settings_frame: pd.DataFrame, max_users: int = DEFAULT_SAMPLE_USERS) -> pd.DataFrame:
    """ml_recommendation_evaluation on the driver, from the evaluation rows of at most max_users users
    (var ltv_spark_recommendation_sample_users), the catalogue's ids, the content lists of the items
    they touched and the tuning table."""
    from ltv.dbt_entrypoints import recommendation_offline

    settings = frames.settings(settings_frame)
    rows, sampled = sampled_rows(interactions.where(recommendation_offline.EVALUATION_ROWS),
                                 int(settings.get("random_seed") or 0), max_users)
    # Of a sample, only the lists of the items its users touched can be recommended from.
    content = (content_similarities.join(rows.select("item_id").distinct(), "item_id").select(
        *content_similarities.columns) if sampled else content_similarities)
    tables = {"evaluation_rows": rows, "evaluation_items": items.select("item_id"), "content_lists": content,
              "tuning_table": tuning}
    with _driver_duckdb(frames, tables) as connection:
        table = recommendation_offline.recommendation_evaluation(
            connection, connection.table("evaluation_rows"), connection.table("evaluation_items"), settings_frame,
            content_similarities=connection.table("content_lists"), tuning=connection.table("tuning_table"))
        _recorded_in_spark(frames, connection)
    return table


def item_similarity_v3(frames, interactions, items, tuning, settings_frame: pd.DataFrame,
                       max_users: int = DEFAULT_SAMPLE_USERS) -> pd.DataFrame:
    """ml_item_similarities v3 fitted on the driver: the tuned family's item weights (EASE is a dense
    solve over the catalogue's active items anyway) from the rows of at most max_users users (var
    ltv_spark_recommendation_sample_users; every user on the demo). Its lists are catalogue-sized; the scoring of every
    user with them is distributed (spark_recommendations.user_recommendations_v3)."""
    from ltv.dbt_entrypoints import recommendation_models

    settings = frames.settings(settings_frame)
    rows, _ = sampled_rows(interactions, int(settings.get("random_seed") or 0), max_users)
    tables = {"v3_rows": rows, "v3_items": items.select("item_id"), "v3_tuning": tuning}
    with _driver_duckdb(frames, tables) as connection:
        return recommendation_models.item_similarity_v3(
            connection, connection.table("v3_rows"), connection.table("v3_items"), connection.table("v3_tuning"),
            settings_frame).df()
