"""A warehouse built before sentiment was keyed by text source (scores keyed by text_hash alone, no
language columns) upgrades in place: the next build rescores every text instead of failing."""

from __future__ import annotations

import shutil

import duckdb
from conftest import build_warehouse


def test_sentiment_tables_of_the_old_layout_are_rescored_not_fatal(demo_warehouse, tmp_path):
    warehouse = tmp_path / "build" / "warehouse.duckdb"
    warehouse.parent.mkdir()
    shutil.copy2(demo_warehouse, warehouse)  # a full demo build, as the shared one
    connection = duckdb.connect(str(warehouse))
    try:
        expected = {version: connection.sql(
            f"select count(*), count(distinct (text_source, text_hash)) from ml.ml_text_sentiment_v{version}").fetchall()[0]
            for version in (1, 2)}
        for version in (1, 2):
            # The layout of the previous release: one row per text hash, no source or language.
            connection.execute(f"""
                create or replace table ml.ml_text_sentiment_v{version} as
                select text_hash, any_value(model_version) as model_version, any_value(polarity) as polarity,
                       any_value(subjectivity) as subjectivity, 'an older model' as model_fingerprint
                from ml.ml_text_sentiment_v{version} group by text_hash""")
    finally:
        connection.close()

    # The next build, of everything that reads the sentiment tables (the rest of the copy is unchanged).
    build_warehouse(tmp_path / "build", extra_arguments=["--select", "ml_text_sentiment_v1+", "ml_text_sentiment_v2+"])

    connection = duckdb.connect(str(warehouse), read_only=True)
    try:
        for version in (1, 2):
            rows, keys, without_source, old_fingerprints = connection.sql(f"""
                select count(*), count(distinct (text_source, text_hash)), count(*) - count(text_source),
                       count(*) filter (where model_fingerprint = 'an older model')
                from ml.ml_text_sentiment_v{version}""").fetchall()[0]
            assert (rows, keys) == expected[version]
            assert without_source == 0 and old_fingerprints == 0
    finally:
        connection.close()
