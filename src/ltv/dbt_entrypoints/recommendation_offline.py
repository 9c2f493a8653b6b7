"""The two models that measure recommenders offline: ml_recommendation_tuning (v3's configuration,
chosen on the validation split) and ml_recommendation_evaluation (every version on the split at the
cut-off, on a fixed-size sample of the test users).

Both code the user and item ids in DuckDB (dense integers in id order, see _create_id_codes) and
hand the plain functions integer columns: sorting, hashing and merging millions of text ids in
pandas had cost more than the fits (about 11 s of the evaluation's 84 s at 1M users). The codes
follow the id order, so every tie-break by the smaller id gives the answer it gives on the ids, and
neither table holds an id: nothing needs decoding.
"""

from __future__ import annotations

import sys

import pandas as pd

from ltv.dbt_entrypoints import recommendation_models
from ltv.dbt_entrypoints.common import _as_date, _metric_value, _reused_or_remembered, model_settings
from ltv.dbt_entrypoints.recommendation_models import (
    EVALUATION_LIST_LENGTH,
    _create_id_codes,
    _fetched_frame,
    _weighted_interactions,
    chosen_config,
)
from ltv.registry import record_run

# The rows that train, test or exclude in the evaluation: a pair bought after the horizon changes nothing.
EVALUATION_ROWS = ("interaction_weight_before_cutoff > 0 or purchases_after_cutoff > 0 or purchases_before_cutoff > 0 "
                   "or returned_before_cutoff > 0 or cancelled_before_cutoff > 0 or rating_before_cutoff is not null")
# Of those, the rows the Python side reads: the training rows of v1/v2 (a positive weight) and of
# v3 (period_interactions' "cutoff" rows). The test pairs are found in DuckDB.
TRAINING_ROWS = ("interaction_weight_before_cutoff > 0 or coalesce(purchases_before_cutoff, 0) "
                 "+ coalesce(returned_before_cutoff, 0) + coalesce(cancelled_before_cutoff, 0) > 0 "
                 "or rating_before_cutoff is not null")
TUNING_ROWS = ("purchases_before_cutoff > 0 or returned_before_cutoff > 0 or cancelled_before_cutoff > 0 "
               "or rating_before_cutoff is not null")


def _coded_rows(connection, prefix: str, interactions, columns: tuple[str, ...], item_ids_sql: str | None = None,
                where: str | None = None) -> pd.DataFrame:
    """The interaction rows (those matching the SQL condition `where`, default all) as user_id and
    item_id replaced by their codes, sorted by them, and `columns`: only those, because the
    aggregated interactions have 21 more and a model reads four to eight of them (fetching all of
    them for 8.4M rows, and then selecting rows of the wide frame, cost v1's recommendations 7 of
    their 19 CPU-s).

    Creates the temp tables {prefix}_user_codes (the users of all the rows) and {prefix}_item_codes
    (the items of all the rows and of item_ids_sql). Sorted because DuckDB hands rows over in no
    fixed order and float sums follow the row order: two builds on the same data must agree to the
    bit. DuckDB sorts the unique (user, item) codes as fast as numpy would, and Arrow hands the
    columns over at half the cost of fetchnumpy."""
    connection.register(f"{prefix}_rows", interactions)
    _create_id_codes(connection, f"{prefix}_user_codes", f"select user_id as id from {prefix}_rows")
    items_sql = f"select item_id as id from {prefix}_rows"
    if item_ids_sql:
        items_sql += f" union all {item_ids_sql}"
    _create_id_codes(connection, f"{prefix}_item_codes", items_sql)
    return _fetched_frame(connection.sql(f"""
        select user_codes.code as user_id, item_codes.code as item_id
               {"".join(f", rows.{column}" for column in columns)}
        from {prefix}_rows as rows
        inner join {prefix}_user_codes as user_codes on rows.user_id = user_codes.id
        inner join {prefix}_item_codes as item_codes on rows.item_id = item_codes.id
        {f"where {where}" if where else ""}
        order by 1, 2"""))


def recommendation_tuning(connection, interactions, settings_frame: pd.DataFrame, this: str | None = None):
    """ml_recommendation_tuning: v3's configuration chosen on the validation split (train up to
    validation_cutoff_date, validate on first purchases up to cutoff_date); one row per grid point.
    The choice is reused while the rows it reads are unchanged."""
    from ltv import build_cache, item_weights, ranking_metrics, recommend, recommend_scoring, similarity
    from ltv import recommendation_tuning as tuning

    settings = model_settings(settings_frame) if len(settings_frame) else {}
    interactions = interactions.filter(TUNING_ROWS)
    fingerprint = build_cache.combine(
        "recommendation_tuning", settings.get("validation_cutoff_date"), settings.get("cutoff_date"),
        settings.get("random_seed"), build_cache.relation_fingerprint(interactions),
        build_cache.code_fingerprint(item_weights, tuning, ranking_metrics, recommend, recommend_scoring,
                                     similarity, recommendation_models, sys.modules[__name__]))
    previous = _reused_or_remembered(connection, this, settings, fingerprint)
    if previous is not None:
        return previous
    frame = _coded_rows(connection, "ltv_recommendation_tuning", interactions,
                        tuning.PERIOD_COLUMNS["validation"] + tuning.PERIOD_COLUMNS["cutoff"])
    train = tuning.period_interactions(frame, "validation")
    later = tuning.period_interactions(frame, "cutoff")
    later = later.loc[later["purchases"] > 0].merge(
        train[["user_id", "item_id", "purchases"]], on=["user_id", "item_id"], how="left", suffixes=("", "_before"))
    later = later.loc[later["purchases"] > later["purchases_before"].fillna(0)]
    validation = tuning.first_purchases_after(train, later)
    chosen, grid = tuning.tune(train, validation, seed=int(settings.get("random_seed") or 0))
    status = "ok" if grid else "no_validation_users"
    if len(settings_frame):
        record_run(connection, {
            "model_name": "item_similarity", "model_version": 3, "method": "tuning", "status": "fitted",
            "train_rows": len(train), "holdout_rows": len(validation),
            "parameters": {"chosen": chosen, "grid": grid, "tuning_status": status},
            "metrics": {"validation_ndcg_at_10": max((point["validation_ndcg_at_10"] for point in grid), default=None),
                        "grid_points": len(grid)},
        }, cutoff_date=_as_date(settings.get("cutoff_date")), horizon_days=settings.get("horizon_days"))
    return tuning_table(chosen, grid, status)


def tuning_table(chosen: dict, grid: list[dict], status: str) -> pd.DataFrame:
    """ml_recommendation_tuning's rows: each grid point tried, the chosen one flagged; without a grid
    one row holding the defaults that are used instead."""
    import json

    points = grid or [{**chosen, "validation_ndcg_at_10": None}]
    chosen_key = json.dumps({key: chosen[key] for key in sorted(chosen)}, sort_keys=True)
    rows = []
    for number, point in enumerate(points, start=1):
        config = {key: point[key] for key in ("family", "parameters", "rating_mode", "cancelled_weight",
                                              "popularity_weight")}
        rows.append({
            "grid_point": number, "family": config["family"],
            "parameters_json": json.dumps(config["parameters"], sort_keys=True),
            "rating_mode": config["rating_mode"], "cancelled_weight": float(config["cancelled_weight"]),
            "popularity_weight": float(config["popularity_weight"]),
            "validation_ndcg_at_10": _metric_value(point["validation_ndcg_at_10"]),
            "is_chosen": json.dumps({key: config[key] for key in sorted(config)}, sort_keys=True) == chosen_key,
            "tuning_status": status,
        })
    frame = pd.DataFrame(rows)
    # The first point equal to the choice is the chosen row (a grid never repeats a point).
    first = frame.index[frame["is_chosen"]].min()
    frame["is_chosen"] = frame.index == first
    return frame


def _sampled_test_purchases(connection, prefix: str, seed: int, sample_size: int) -> tuple[pd.DataFrame, int]:
    """(the test purchases of the sampled test users, coded and sorted; how many test users there are).

    Test purchases: items a user bought after the cut-off and had not bought, returned or cancelled
    before it (no version recommends those, so they can be neither hits nor misses). The sample:
    the sample_size test users first by md5(seed:user_id), every test user when there are no more.
    A user's draw depends only on the seed and its own id, so the sample is the same build after
    build, and new users displace only the few whose draw they beat."""
    # One row per (user, item) in int_user_item_interactions_aggregated: the test is on the row.
    connection.execute(f"""
        create or replace temp table {prefix}_test_pairs as
        select distinct user_id, item_id from {prefix}_rows
        where purchases_after_cutoff > 0 and coalesce(purchases_before_cutoff, 0) <= 0
          and coalesce(returned_before_cutoff, 0) <= 0 and coalesce(cancelled_before_cutoff, 0) <= 0""")
    test_users = connection.sql(f"select count(distinct user_id) from {prefix}_test_pairs").fetchall()[0][0]
    connection.execute(f"""
        create or replace temp table {prefix}_sample as
        select user_id from (select distinct user_id from {prefix}_test_pairs)
        order by md5('{int(seed)}:' || user_id), user_id
        limit {int(sample_size)}""")
    purchases = connection.sql(f"""
        select user_codes.code as user_id, item_codes.code as item_id
        from {prefix}_test_pairs as pairs
        inner join {prefix}_sample as sample on pairs.user_id = sample.user_id
        inner join {prefix}_user_codes as user_codes on pairs.user_id = user_codes.id
        inner join {prefix}_item_codes as item_codes on pairs.item_id = item_codes.id
        order by 1, 2""").df()
    return purchases, int(test_users)


def _coded_content(connection, prefix: str, items, content_similarities, top_k: int) -> pd.DataFrame:
    """The content similarity table on item codes, sorted by item and similar item; computed from the
    catalogue when the model did not pass ml_item_content_similarities."""
    if content_similarities is None:
        from ltv.content_similarity import content_similarities as compute

        content_similarities = compute(items.df(), top_k=top_k)
    connection.register(f"{prefix}_content", content_similarities)
    return connection.sql(f"""
        select items.code as item_id, similar_items.code as similar_item_id, content.similarity
        from {prefix}_content as content
        inner join {prefix}_item_codes as items on content.item_id = items.id
        inner join {prefix}_item_codes as similar_items on content.similar_item_id = similar_items.id
        order by 1, 2""").df()


def _evaluation_fingerprint(settings: dict, interactions, items, content_similarities, tuning) -> str:
    """What the evaluation table is a function of: its settings (the seed draws the sample), the
    rows it reads and the code that computes it."""
    from ltv import (
        build_cache,
        content_similarity,
        content_top_k,
        item_weights,
        ranking_metrics,
        recommend,
        recommend_scoring,
        similarity,
    )
    from ltv import metrics as metric_definitions
    from ltv import recommendation_tuning as v3_tuning

    return build_cache.combine(
        "recommendation_evaluation", settings.get("similarity_top_k"), settings.get("cutoff_date"),
        settings.get("label_end_date"), settings.get("random_seed"), build_cache.relation_fingerprint(interactions),
        build_cache.relation_fingerprint(items),
        None if content_similarities is None else build_cache.relation_fingerprint(content_similarities),
        None if tuning is None else build_cache.relation_fingerprint(tuning),
        build_cache.code_fingerprint(metric_definitions, ranking_metrics, recommend, recommend_scoring, similarity,
                                     item_weights, v3_tuning, content_similarity, content_top_k,
                                     recommendation_models, sys.modules[__name__]))


def recommendation_evaluation(connection, interactions, items, settings_frame: pd.DataFrame,
                              content_similarities=None, tuning=None, this: str | None = None):
    """ml_recommendation_evaluation: train on interactions up to the cut-off, test on the items each
    user bought for the first time in the horizon after it; one row (and one registry run) per
    method, v3 being the tuned configuration (tuning: ml_recommendation_tuning) refitted on the
    training period. No version recommends an item the user bought, returned or cancelled before the
    cut-off, so buying one of those after it is neither a hit nor a miss.

    Similarities and popularity are fitted on all the training rows; the recommendations and
    metrics are for a sample of EVALUATION_SAMPLE_USERS test users (all of them in a smaller shop),
    each mean metric with its standard error. The split does not move while the cut-off stays, so
    the last table is reused when the rows it reads (and the seed) are unchanged."""
    from ltv import ranking_metrics
    from ltv import recommendation_tuning as v3_tuning

    settings = model_settings(settings_frame) if len(settings_frame) else {}
    interactions = interactions.filter(EVALUATION_ROWS)
    top_k = int(settings.get("similarity_top_k", 50))
    fingerprint = _evaluation_fingerprint(settings, interactions, items, content_similarities, tuning)
    previous = _reused_or_remembered(connection, this, settings, fingerprint)
    if previous is not None:
        return previous
    prefix = "ltv_recommendation_evaluation"
    connection.register(f"{prefix}_items", items)
    rows = _coded_rows(connection, prefix, interactions,
                       ("interaction_weight_before_cutoff", *v3_tuning.PERIOD_COLUMNS["cutoff"]),
                       f"select item_id from {prefix}_items", where=TRAINING_ROWS)
    test_purchases, test_users = _sampled_test_purchases(
        connection, prefix, int(settings.get("random_seed") or 0), ranking_metrics.EVALUATION_SAMPLE_USERS)
    catalogue = connection.sql(f"""
        select distinct item_codes.code as item_id from {prefix}_items as items
        inner join {prefix}_item_codes as item_codes on items.item_id = item_codes.id order by 1""").df()
    sampled_users = pd.unique(test_purchases["user_id"])
    before_cutoff = v3_tuning.period_interactions(rows, "cutoff")
    train = _weighted_interactions(rows, "interaction_weight_before_cutoff")
    del rows  # each frame goes once what is built from it exists: the fits and scoring peak later
    extra_runs = {}
    if tuning is not None:
        config = chosen_config(tuning.df())
        extra_runs["tuned"] = (3, config, v3_tuning.config_recommendations(
            before_cutoff, config, EVALUATION_LIST_LENGTH, users=sampled_users, item_ids=catalogue["item_id"]))
    excluded = v3_tuning.excluded_pairs(before_cutoff.loc[before_cutoff["user_id"].isin(sampled_users)])
    del before_cutoff
    runs = ranking_metrics.offline_evaluation(
        train,
        test_purchases,
        catalogue,
        top_k=top_k,
        # The registry's metrics are defined @10 whatever list length the shop publishes.
        top_n=EVALUATION_LIST_LENGTH,
        content_similarity_table=_coded_content(connection, prefix, items, content_similarities, top_k),
        excluded=excluded,
        extra_runs=extra_runs,
        test_users=test_users,
    )
    return _recorded_evaluation(connection, runs, settings, settings_frame)


def _recorded_evaluation(connection, runs: list[dict], settings: dict, settings_frame: pd.DataFrame) -> pd.DataFrame:
    """Record each evaluation run in the registry; return ml_recommendation_evaluation's rows."""
    rows = []
    for run in runs:
        run["metrics"] = {name.replace("_at_k", f"_at_{EVALUATION_LIST_LENGTH}"): value
                          for name, value in run.get("metrics", {}).items()}
        if len(settings_frame):
            record_run(connection, run, cutoff_date=_as_date(settings["cutoff_date"]),
                       horizon_days=settings["horizon_days"])
        rows.append({
            "model_name": run["model_name"],
            "model_version": str(run["model_version"]),
            "method": run.get("method"),
            "train_rows": run.get("train_rows"),
            "holdout_rows": run.get("holdout_rows"),
            **_evaluation_columns(run.get("metrics", {})),
        })
    frame = pd.DataFrame(rows)
    # Typed even when every value is null (a tiny shop): nullable boolean, text.
    if "beats_baseline" in frame.columns:
        frame["beats_baseline"] = frame["beats_baseline"].astype("boolean")
    if "metric_status" in frame.columns:
        frame["metric_status"] = frame["metric_status"].astype("string")
    return frame


# Keys of a recommendation run's metrics that are not numbers: kept as they are, not cast to float.
_NON_NUMERIC_EVALUATION_KEYS = ("metric_status", "beats_baseline")


def _evaluation_columns(metrics: dict) -> dict:
    """One ml_recommendation_evaluation row's metric columns: numbers as floats (None -> NaN), the
    metric_status text and the beats_baseline flag (None stays null) as they are."""
    return {name: value if name in _NON_NUMERIC_EVALUATION_KEYS else _metric_value(value)
            for name, value in metrics.items()}
