"""Item similarity, user recommendations and their offline evaluation."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from ltv.dbt_entrypoints.common import _as_date, _metric_value, _reused_or_remembered, model_settings
from ltv.registry import record_run

SIMILARITY_METHODS = {1: "cosine", 2: "bm25"}
# r(u, i) is transformed the way the similarity was built: binary incidence for plain cosine,
# log-damped counts for BM25, so that repeat purchases of one item do not dominate.
INTERACTION_TRANSFORMS = {1: "binary", 2: "log1p"}
EVALUATION_LIST_LENGTH = 10


def _weighted_interactions(interactions: pd.DataFrame, weight_column: str) -> pd.DataFrame:
    frame = interactions.loc[interactions[weight_column] > 0, ["user_id", "item_id", weight_column]]
    return frame.rename(columns={weight_column: "weight"})


def _create_id_codes(connection, table: str, ids_sql: str) -> int:
    """Temp table `table`(id, code): the distinct non-null ids that `ids_sql` returns (a column named
    id), coded 0..n-1 in id order; returns n.

    Coding in DuckDB spares the Python models from loading and hashing millions of text ids (about
    4 s per model for 7M interactions), and because codes follow the id order, every tie-break by
    the smaller id in similarity.py and recommend.py gives the same answer on the codes.
    """
    connection.execute(
        f"create or replace temp table {table} as "
        f"select id, cast(row_number() over (order by id) - 1 as bigint) as code "
        f"from (select distinct id from ({ids_sql}) where id is not null)")
    return connection.sql(f"select count(*) from {table}").fetchall()[0][0]


def item_similarity(connection, interactions, items, settings_frame: pd.DataFrame, version: int):
    """ml_item_similarities vN: behaviour similarity, top-K neighbours per item, over the catalogue.

    interactions and items are DuckDB relations; the ids are coded in DuckDB and decoded in the
    relation returned, which dbt writes without a round trip through pandas."""
    from ltv.similarity import item_similarities

    settings = model_settings(settings_frame) if len(settings_frame) else {}
    prefix = f"ltv_item_similarity_v{version}"
    # register, not create_view: a registered relation is a temporary view, gone with the connection.
    connection.register(f"{prefix}_interactions", interactions)
    connection.register(f"{prefix}_items", items)
    item_count = _create_id_codes(connection, f"{prefix}_item_codes", f"select item_id as id from {prefix}_items")
    _create_id_codes(connection, f"{prefix}_user_codes",
                     f"select user_id as id from {prefix}_interactions where interaction_weight > 0")
    coded_interactions = connection.sql(f"""
        select user_codes.code as user_id, item_codes.code as item_id, interactions.interaction_weight as weight
        from {prefix}_interactions as interactions
        inner join {prefix}_user_codes as user_codes on interactions.user_id = user_codes.id
        inner join {prefix}_item_codes as item_codes on interactions.item_id = item_codes.id
        where interactions.interaction_weight > 0""").df()
    similarities = item_similarities(
        coded_interactions,
        method=SIMILARITY_METHODS[version],
        top_k=int(settings.get("similarity_top_k", 50)),
        bm25_k1=float(settings.get("bm25_k1", 1.2)),
        bm25_b=float(settings.get("bm25_b", 0.75)),
        item_ids=np.arange(item_count),
    )
    connection.register(f"{prefix}_coded_result", similarities)
    return connection.sql(f"""
        select items.id as item_id, similar_items.id as similar_item_id, result.similarity, result.rank,
               'behaviour' as source, cast({int(version)} as bigint) as model_version
        from {prefix}_coded_result as result
        inner join {prefix}_item_codes as items on result.item_id = items.code
        inner join {prefix}_item_codes as similar_items on result.similar_item_id = similar_items.code""")


def content_similarity(connection, items, settings_frame: pd.DataFrame, this: str | None = None):
    """ml_item_content_similarities: attribute and text similarity, for new items and 'similar items'.
    It depends on the catalogue alone, so an unchanged catalogue reuses the last table."""
    from ltv import build_cache, content_similarity, content_top_k, similarity
    from ltv.content_similarity import content_similarities

    settings = model_settings(settings_frame) if len(settings_frame) else {}
    top_k = int(settings.get("similarity_top_k", 50))
    fingerprint = build_cache.combine(
        "content_similarity", top_k, build_cache.relation_fingerprint(items),
        build_cache.code_fingerprint(similarity, content_similarity, content_top_k, sys.modules[__name__]))
    previous = _reused_or_remembered(connection, this, settings, fingerprint)
    if previous is not None:
        return previous
    similarities = content_similarities(items.df(), top_k=top_k)
    similarities["source"] = "content"
    return similarities


def _popularity(interactions: pd.DataFrame, purchase_column: str) -> pd.DataFrame:
    """Distinct buyers per item: the fallback list for users with no history."""
    buyers = interactions.loc[interactions[purchase_column] > 0]
    return buyers.groupby("item_id").size().rename("popularity_score").reset_index()


def _never_recommended(interactions: pd.DataFrame) -> pd.DataFrame:
    """Pairs never recommended, in every version: bought, returned or cancelled (returned means no)."""
    touched = ((interactions["purchases_total"] > 0) | (interactions["returned_total"] > 0)
               | (interactions["cancelled_total"] > 0))
    return interactions.loc[touched, ["user_id", "item_id"]]


def user_recommendations(connection, interactions, similarities, users, settings_frame: pd.DataFrame,
                         tuning=None):
    """ml_user_recommendations vN: top-N per user from behaviour similarity vN (the served version
    is picked afterwards, on the offline evaluation: fct_recommendation_versions). v3 weighs the
    interactions the way ml_recommendation_tuning chose (tuning: that table's relation).

    The relations' ids are coded in DuckDB (see _create_id_codes) and decoded in the relation
    returned: users are every customer and every interacting user, items every item that is
    interacted with or has similarity rows, so the result is what recommend_items gives on the ids."""
    from ltv import recommendation_tuning
    from ltv.recommend import recommend_items

    settings = model_settings(settings_frame) if len(settings_frame) else {}
    top_n = int(settings.get("recommendations_top_n", 10))
    prefix = "ltv_user_recommendations"
    connection.register(f"{prefix}_interactions", interactions)
    connection.register(f"{prefix}_similarities", similarities)
    connection.register(f"{prefix}_users", users)
    versions = connection.sql(f"select model_version from {prefix}_similarities limit 1").fetchall()
    version = int(versions[0][0]) if versions else (3 if tuning is not None else 2)
    # Rows that weigh, and rows that only keep an item from being recommended back.
    kept_rows = "interaction_weight > 0 or purchases_total > 0 or returned_total > 0 or cancelled_total > 0"
    if tuning is not None:  # v3 may learn from ratings
        kept_rows += " or rating_latest is not null"
    user_count = _create_id_codes(connection, f"{prefix}_user_codes", f"""
        select user_id as id from {prefix}_users
        union all select user_id from {prefix}_interactions where {kept_rows}""")
    _create_id_codes(connection, f"{prefix}_item_codes", f"""
        select item_id as id from {prefix}_interactions where {kept_rows}
        union all select item_id from {prefix}_similarities
        union all select similar_item_id from {prefix}_similarities""")
    coded_interactions = connection.sql(f"""
        select user_codes.code as user_id, item_codes.code as item_id,
               interactions.* exclude (user_id, item_id)
        from {prefix}_interactions as interactions
        inner join {prefix}_user_codes as user_codes on interactions.user_id = user_codes.id
        inner join {prefix}_item_codes as item_codes on interactions.item_id = item_codes.id
        where {kept_rows}""").df()
    coded_similarities = connection.sql(f"""
        select items.code as item_id, similar_items.code as similar_item_id, similarities.similarity
        from {prefix}_similarities as similarities
        inner join {prefix}_item_codes as items on similarities.item_id = items.id
        inner join {prefix}_item_codes as similar_items on similarities.similar_item_id = similar_items.id""").df()
    if tuning is not None:
        recommendations = recommendation_tuning.config_recommendations(
            recommendation_tuning.period_interactions(coded_interactions, "all"), chosen_config(tuning.df()),
            top_n, users=np.arange(user_count), similarities=coded_similarities)
    else:
        recommendations = recommend_items(
            _weighted_interactions(coded_interactions, "interaction_weight"),
            coded_similarities,
            top_n=top_n,
            owned=_never_recommended(coded_interactions),
            popularity=_popularity(coded_interactions, "purchases_total"),
            all_user_ids=np.arange(user_count),
            interaction_transform=INTERACTION_TRANSFORMS[version],
        )
    connection.register(f"{prefix}_coded_result", recommendations)
    return connection.sql(f"""
        select users.id as user_id, result.rank, items.id as item_id, result.score,
               because_items.id as because_item_id, result.is_fallback,
               cast({version} as bigint) as similarity_version
        from {prefix}_coded_result as result
        inner join {prefix}_user_codes as users on result.user_id = users.code
        inner join {prefix}_item_codes as items on result.item_id = items.code
        left join {prefix}_item_codes as because_items on result.because_item_id = because_items.code""")


def chosen_config(tuning_frame: pd.DataFrame) -> dict:
    """The configuration ml_recommendation_tuning chose (its is_chosen row)."""
    import json

    row = tuning_frame.loc[tuning_frame["is_chosen"].astype(bool)].iloc[0]
    return {"family": row["family"], "parameters": json.loads(row["parameters_json"]),
            "rating_mode": row["rating_mode"], "cancelled_weight": float(row["cancelled_weight"]),
            "popularity_weight": float(row["popularity_weight"])}


def recommendation_tuning(connection, interactions, settings_frame: pd.DataFrame, this: str | None = None):
    """ml_recommendation_tuning: v3's configuration chosen on the validation split (train up to
    validation_cutoff_date, validate on first purchases up to cutoff_date); one row per grid point.
    The choice is reused while the rows it reads are unchanged."""
    from ltv import build_cache, item_weights, ranking_metrics, recommend, similarity
    from ltv import recommendation_tuning as tuning

    settings = model_settings(settings_frame) if len(settings_frame) else {}
    interactions = interactions.filter("purchases_before_cutoff > 0 or returned_before_cutoff > 0 "
                                       "or cancelled_before_cutoff > 0 or rating_before_cutoff is not null")
    fingerprint = build_cache.combine(
        "recommendation_tuning", settings.get("validation_cutoff_date"), settings.get("cutoff_date"),
        settings.get("random_seed"), build_cache.relation_fingerprint(interactions),
        build_cache.code_fingerprint(item_weights, tuning, ranking_metrics, recommend, similarity,
                                     sys.modules[__name__]))
    previous = _reused_or_remembered(connection, this, settings, fingerprint)
    if previous is not None:
        return previous
    frame = interactions.df().sort_values(["user_id", "item_id"], kind="stable", ignore_index=True)
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


def item_similarity_v3(connection, interactions, items, tuning, settings_frame: pd.DataFrame):
    """ml_item_similarities_v3: the tuned configuration's top-K item weights over all the data."""
    from ltv import recommendation_tuning

    frame = interactions.df()
    item_ids = items.df()["item_id"]
    similarities = recommendation_tuning.config_similarities(
        recommendation_tuning.period_interactions(frame, "all"), chosen_config(tuning.df()), item_ids=item_ids)
    similarities["source"] = "behaviour"
    similarities["model_version"] = 3
    return similarities


def recommendation_evaluation(connection, interactions, items, settings_frame: pd.DataFrame,
                              content_similarities=None, tuning=None, this: str | None = None):
    """ml_recommendation_evaluation: train on interactions up to the cut-off, test on the items each
    user bought for the first time in the horizon after it; one row (and one registry run) per
    method, v3 being the tuned configuration (tuning: ml_recommendation_tuning) refitted on the
    training period. No version recommends an item the user bought, returned or cancelled before the
    cut-off, so buying one of those after it is neither a hit nor a miss. That split does not move
    while the cut-off stays, so the last table is reused when the rows it reads are unchanged."""
    from ltv import build_cache, item_weights, ranking_metrics, recommend, similarity
    from ltv import metrics as metric_definitions
    from ltv import recommendation_tuning as v3_tuning
    from ltv.ranking_metrics import offline_evaluation

    settings = model_settings(settings_frame) if len(settings_frame) else {}
    # Only rows that train, test or exclude: a pair bought after the horizon changes nothing here.
    interactions = interactions.filter("interaction_weight_before_cutoff > 0 or purchases_after_cutoff > 0 "
                                       "or purchases_before_cutoff > 0 or returned_before_cutoff > 0 "
                                       "or cancelled_before_cutoff > 0 or rating_before_cutoff is not null")
    fingerprint = build_cache.combine(
        "recommendation_evaluation", settings.get("similarity_top_k"), settings.get("cutoff_date"),
        settings.get("label_end_date"), build_cache.relation_fingerprint(interactions),
        build_cache.relation_fingerprint(items),
        None if content_similarities is None else build_cache.relation_fingerprint(content_similarities),
        None if tuning is None else build_cache.relation_fingerprint(tuning),
        build_cache.code_fingerprint(metric_definitions, ranking_metrics, recommend, similarity, item_weights,
                                     v3_tuning, sys.modules[__name__]))
    previous = _reused_or_remembered(connection, this, settings, fingerprint)
    if previous is not None:
        return previous
    # DuckDB hands rows over in no fixed order and the metrics are float averages: sorting first
    # makes two builds on the same data record bit-identical metrics.
    interactions = interactions.df().sort_values(["user_id", "item_id"], kind="stable", ignore_index=True)
    items = items.df().sort_values("item_id", kind="stable", ignore_index=True)
    train = _weighted_interactions(interactions, "interaction_weight_before_cutoff")
    before_cutoff = v3_tuning.period_interactions(interactions, "cutoff")
    excluded = v3_tuning.excluded_pairs(before_cutoff)
    new_purchases = v3_tuning.first_purchases_after(
        before_cutoff, interactions.loc[interactions["purchases_after_cutoff"] > 0, ["user_id", "item_id"]])
    extra_runs = {}
    if tuning is not None:
        config = chosen_config(tuning.df())
        test_users = pd.unique(new_purchases["user_id"])
        extra_runs["tuned"] = (3, config, v3_tuning.config_recommendations(
            before_cutoff, config, EVALUATION_LIST_LENGTH, users=test_users, item_ids=items["item_id"]))
    runs = offline_evaluation(
        train,
        new_purchases,
        items,
        top_k=int(settings.get("similarity_top_k", 50)),
        # The registry's metrics are defined @10 whatever list length the shop publishes.
        top_n=EVALUATION_LIST_LENGTH,
        content_similarity_table=None if content_similarities is None else content_similarities.df()[
            ["item_id", "similar_item_id", "similarity"]].sort_values(["item_id", "similar_item_id"], ignore_index=True),
        excluded=excluded,
        extra_runs=extra_runs,
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
