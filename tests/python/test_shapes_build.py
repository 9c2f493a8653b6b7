"""Each real-shaped shop (`ltv generate --shape`, profiles in ../shared/REAL-SHOPS.md) builds green
with the default settings, accepts every row (they are all valid under the contract), reads its
absent optional tables as empty, and fills every public table that its data allows."""

from __future__ import annotations

import json

import duckdb
import pytest
from conftest import NO_RUN_ARTIFACTS, build_warehouse

USERS = 600

# Public tables the data of every shape allows to be non-empty, and those that need more than
# some shapes have: item similarities and recommendations need two items or more; sentiment needs
# comments; conversation experience needs support conversations (only multilingual has them).
ALWAYS_FILLED = ["dim_users", "fct_user_features", "fct_orders", "fct_user_value_predictions",
                 "fct_user_value_predictions_v1", "fct_user_value_predictions_v3", "fct_user_value_holdout",
                 "fct_segment_summary", "fct_model_runs"]
FILLED_BY_SHAPE = {
    "orders-only": [],
    "retail": ["fct_item_similarities", "fct_user_recommendations"],
    "ratings": ["fct_item_similarities", "fct_user_recommendations"],
    "fashion": ["fct_item_similarities", "fct_user_recommendations", "fct_text_sentiment", "fct_user_experience"],
    "multilingual": ["fct_item_similarities", "fct_user_recommendations", "fct_text_sentiment", "fct_user_experience",
                     "fct_conversation_experience"],
}


@pytest.mark.parametrize("shape", sorted(FILLED_BY_SHAPE))
def test_a_real_shaped_shop_builds_green_and_fills_its_public_tables(shape, tmp_path):
    from ltv.shapes import generate_shaped_shop

    shop = tmp_path / "shop"
    rows = generate_shaped_shop(shape, USERS, shop, seed=3)
    written = json.loads((shop / "shape.json").read_text())
    warehouse, result = build_warehouse(tmp_path / "build", raw_dir=shop, extra_arguments=NO_RUN_ARTIFACTS)
    assert "ltv quarantine summary" in result.stdout
    connection = duckdb.connect(str(warehouse), read_only=True)
    try:
        def count(relation: str) -> int:
            return connection.sql(f"select count(*) from {relation}").fetchall()[0][0]

        # Every row of a valid export is accepted: nothing is quarantined for being real-shaped.
        assert count("quarantine_rows") == 0
        for table, table_rows in rows.items():
            assert count(f"staging.stg_shop__{table}") == table_rows, table
        present = dict(connection.sql("select raw_table, is_present from staging.base_shop__raw_tables").fetchall())
        assert {table for table, is_present in present.items() if is_present} == set(rows), written
        for relation in ALWAYS_FILLED + FILLED_BY_SHAPE[shape]:
            assert count(relation) > 0, relation
        assert count("dim_users") == rows["users"]
        assert count("fct_user_value_predictions") == rows["users"]
        assert connection.sql("select sum(users) from fct_segment_summary").fetchall()[0][0] == rows["users"]
        # The served predictions are the champion's, whatever versions could fit this shape.
        champion = connection.sql("select model_version from fct_user_value_versions where is_champion").fetchall()
        assert connection.sql("select distinct model_version from fct_user_value_predictions").fetchall() == champion
        champion = connection.sql("select model_version from fct_recommendation_versions where is_champion").fetchall()
        served = connection.sql("select count(*) from fct_user_recommendations").fetchall()[0][0]
        assert served == connection.sql(f"select count(*) from fct_user_recommendations_v{champion[0][0]}").fetchall()[0][0]
        if shape == "orders-only":  # one item: nothing to be similar to, nothing left to recommend
            assert count("fct_item_similarities") == 0
    finally:
        connection.close()
