"""Item similarity, user recommendations and their offline evaluation."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from ltv.dbt_entrypoints.common import _reused_or_remembered, model_settings

SIMILARITY_METHODS = {1: "cosine", 2: "bm25"}
# r(u, i) is transformed the way the similarity was built: binary incidence for plain cosine,
# log-damped counts for BM25, so that repeat purchases of one item do not dominate.
INTERACTION_TRANSFORMS = {1: "binary", 2: "log1p"}
EVALUATION_LIST_LENGTH = 10
# The interaction columns v1 and v2 recommendations read: the weight, and what is never recommended.
V1_V2_COLUMNS = ("interaction_weight", "purchases_total", "returned_total", "cancelled_total")


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


def _fetched_frame(relation) -> pd.DataFrame:
    """A coded relation's rows as a DataFrame of plain numpy columns, NULLs of a numeric column as NaN.

    Through Arrow, not .df(): for 8.4M interaction rows .df() took 3.7 CPU-s against 1.6 (most of
    the difference is pandas' conversion of DuckDB's vectors), and the codes need no pandas types."""
    table = relation.to_arrow_table()
    # An integer column with NULLs becomes float, as in _coded_rows (recommendation_offline.py).
    return pd.DataFrame({name: (column.cast("float64") if column.null_count else column).to_numpy()
                         for name, column in zip(table.column_names, table.columns, strict=True)}, copy=False)


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
    coded_interactions = _fetched_frame(connection.sql(f"""
        select user_codes.code as user_id, item_codes.code as item_id, interactions.interaction_weight as weight
        from {prefix}_interactions as interactions
        inner join {prefix}_user_codes as user_codes on interactions.user_id = user_codes.id
        inner join {prefix}_item_codes as item_codes on interactions.item_id = item_codes.id
        where interactions.interaction_weight > 0"""))
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
    from ltv.recommend import buyers_per_item, recommend_items

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
    # Only the columns this version reads (see _coded_rows).
    columns = recommendation_tuning.PERIOD_COLUMNS["all"] if tuning is not None else V1_V2_COLUMNS
    coded_interactions = connection.sql(f"""
        select user_codes.code as user_id, item_codes.code as item_id
               {"".join(f", interactions.{column}" for column in columns)}
        from {prefix}_interactions as interactions
        inner join {prefix}_user_codes as user_codes on interactions.user_id = user_codes.id
        inner join {prefix}_item_codes as item_codes on interactions.item_id = item_codes.id
        where {kept_rows}""")
    coded_similarities = connection.sql(f"""
        select items.code as item_id, similar_items.code as similar_item_id, similarities.similarity
        from {prefix}_similarities as similarities
        inner join {prefix}_item_codes as items on similarities.item_id = items.id
        inner join {prefix}_item_codes as similar_items on similarities.similar_item_id = similar_items.id""")
    # Each input goes as soon as what is built from it exists (v3 at 1M users peaked at 3.2 GB with
    # the coded frames kept through the scoring): v3's are passed inline and config_recommendations
    # drops them before it scores.
    if tuning is not None:
        config = chosen_config(tuning.df())
        recommendations = recommendation_tuning.config_recommendations(
            recommendation_tuning.period_interactions(_fetched_frame(coded_interactions), "all"), config, top_n,
            users=np.arange(user_count), similarities=_fetched_frame(coded_similarities))
    else:
        coded_interactions, coded_similarities = _fetched_frame(coded_interactions), _fetched_frame(coded_similarities)
        weighted = _weighted_interactions(coded_interactions, "interaction_weight")
        owned = _never_recommended(coded_interactions)
        popularity = buyers_per_item(coded_interactions, "purchases_total")
        del coded_interactions
        recommendations = recommend_items(
            weighted, coded_similarities, top_n=top_n, owned=owned, popularity=popularity,
            all_user_ids=np.arange(user_count), interaction_transform=INTERACTION_TRANSFORMS[version])
    del coded_similarities
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


def item_similarity_v3(connection, interactions, items, tuning, settings_frame: pd.DataFrame):
    """ml_item_similarities_v3: the tuned configuration's top-K item weights over all the data.

    Coded in DuckDB like v1 and v2 (see _create_id_codes): the catalogue's items are the universe
    (interactions on other items are dropped, as config_similarities does on the ids), and the rows
    are sorted by user and item so that the per-user rating means sum in one fixed order."""
    from ltv import recommendation_tuning
    from ltv.dbt_entrypoints.recommendation_offline import _coded_rows

    prefix = "ltv_item_similarity_v3"
    connection.register(f"{prefix}_items", items)
    frame = _coded_rows(connection, prefix, interactions, recommendation_tuning.PERIOD_COLUMNS["all"],
                        f"select item_id from {prefix}_items")
    catalogue = connection.sql(f"""
        select distinct item_codes.code from {prefix}_items as items
        inner join {prefix}_item_codes as item_codes on items.item_id = item_codes.id""").fetchnumpy()["code"]
    similarities = recommendation_tuning.config_similarities(
        recommendation_tuning.period_interactions(frame, "all"), chosen_config(tuning.df()), item_ids=catalogue)
    connection.register(f"{prefix}_coded_result", similarities)
    return connection.sql(f"""
        select items.id as item_id, similar_items.id as similar_item_id, result.similarity, result.rank,
               'behaviour' as source, cast(3 as bigint) as model_version
        from {prefix}_coded_result as result
        inner join {prefix}_item_codes as items on result.item_id = items.code
        inner join {prefix}_item_codes as similar_items on result.similar_item_id = similar_items.code""")
