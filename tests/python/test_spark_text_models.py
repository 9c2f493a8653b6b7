"""The rest of the text branch on the `spark` target equals the DuckDB build: ml_text_sentiment v2 (fitted
on the driver, scored in the workers), ml_conversation_experience v1/v2, fct_text_sentiment,
fct_conversation_experience and fct_user_experience, taken from the demo builds of both engines that
every test file shares (spark_demo, demo_warehouse) and compared row by row; Spark's Parquet tables are
read back without Spark.

Beside the comparison with DuckDB, each result is also checked against its definition: v2's scores
against scikit-learn's own Pipeline.predict of the fit Spark stored, the experience scores against
the published formula, v2's weights against LinearRegression on the training rows, the holdout
metrics against numpy on experience.holdout_split's ids. A second Spark run reuses the stored fits.
"""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pandas as pd
import pytest
from conftest import SPARK_FIRST_BUILD_FOLDERS, local_spark_session, requires_spark, spark_parquet
from spark_comparison import assert_same_keyed_rows, same_cell

requires_spark()

TABLES = {  # Spark's table folder -> (DuckDB table, key columns)
    "ml.db/ml_text_sentiment_v2": ("ml.ml_text_sentiment_v2", ["text_source", "text_hash"]),
    "ml.db/ml_conversation_experience_v1": ("ml.ml_conversation_experience_v1", ["conversation_id"]),
    "ml.db/ml_conversation_experience_v2": ("ml.ml_conversation_experience_v2", ["conversation_id"]),
    "main.db/fct_text_sentiment": ("main.fct_text_sentiment", ["text_source", "source_id", "model_version"]),
    "main.db/fct_conversation_experience": ("main.fct_conversation_experience", ["conversation_id", "model_version"]),
    "main.db/fct_user_experience": ("main.fct_user_experience", ["user_id"]),
}
# Spark and DuckDB sum in different orders (v2's least squares, the experience and user averages):
# those numbers agree to rounding, ~1e-14 on the demo. Everything else is equal to the bit.
TOLERANCE = 1e-9
# The fits the text models store (the DuckDB demo's registry also holds the user-value models' fits).
TEXT_FITS = "('support_sentiment', 'text_sentiment')"
RUNS = """select model_name, model_version, method, status, message, train_rows, holdout_rows, cutoff_date,
                 horizon_days, parameters_json, metrics_json
          from {} where model_name in ('text_sentiment', 'support_sentiment', 'conversation_experience')
                    and method != 'textblob' order by model_name, model_version"""


@pytest.fixture(scope="module")
def both_engines(demo_warehouse, spark_demo):
    """(DuckDB's tables, Spark's tables as the build left them, DuckDB's runs, Spark's runs, fingerprints,
    Spark's warehouse), read from the shared demo builds of both engines."""
    warehouse, first = spark_demo / "warehouse", spark_demo / "first_build"

    def spark_table(folder: str) -> str:  # ml_text_sentiment v2 and the registry as the build left them
        return spark_parquet(first if folder in SPARK_FIRST_BUILD_FOLDERS else warehouse, folder)

    with duckdb.connect(str(demo_warehouse), read_only=True) as connection:
        duckdb_tables = {folder: connection.sql(f"select * from {table}").df() for folder, (table, _) in TABLES.items()}
        spark_tables = {folder: connection.sql(f"select * from {spark_table(folder)}").df() for folder in TABLES}
        duckdb_runs = connection.sql(RUNS.format("registry.model_run_log")).fetchall()
        spark_runs = connection.sql(RUNS.format(spark_table("registry.db/model_run_log"))).fetchall()
        fingerprints = [connection.sql(f"select model_name, training_fingerprint from {relation} "
                                       f"where model_name in {TEXT_FITS} order by 1").fetchall()
                        for relation in ("registry.fitted_models", spark_table("registry.db/fitted_models"))]
    return {"duckdb": duckdb_tables, "spark": spark_tables, "duckdb_runs": duckdb_runs, "spark_runs": spark_runs,
            "fingerprints": fingerprints, "warehouse": warehouse}


def _same(left, right) -> bool:
    return same_cell(left, right, TOLERANCE)


def test_every_row_on_spark_is_duckdbs(both_engines):
    for folder, (table, keys) in TABLES.items():
        expected, spark = both_engines["duckdb"][folder], both_engines["spark"][folder]
        assert list(spark.columns) == list(expected.columns), table
        assert [str(kind) for kind in spark.dtypes] == [str(kind) for kind in expected.dtypes], table
        assert_same_keyed_rows(spark, expected, keys, table, TOLERANCE, min_rows=400)


def test_spark_records_duckdbs_runs_and_fingerprints(both_engines):
    duckdb_runs, spark_runs = both_engines["duckdb_runs"], both_engines["spark_runs"]
    assert [run[:2] for run in duckdb_runs] == [("conversation_experience", "1"), ("conversation_experience", "2"),
                                                ("support_sentiment", "2"), ("text_sentiment", "2")]
    assert [run[:-2] for run in spark_runs] == [run[:-2] for run in duckdb_runs]
    for spark_run, duckdb_run in zip(spark_runs, duckdb_runs, strict=True):
        for spark_json, duckdb_json in zip(spark_run[-2:], duckdb_run[-2:], strict=True):
            spark_values, duckdb_values = pd.json_normalize(json.loads(spark_json)), pd.json_normalize(
                json.loads(duckdb_json))
            assert list(spark_values.columns) == list(duckdb_values.columns)
            assert all(_same(spark_values[name][0], duckdb_values[name][0]) for name in duckdb_values), (
                spark_json, duckdb_json)
    # The training fingerprints (DuckDB's hash of the training rows, computed in Spark's workers).
    duckdb_fits, spark_fits = both_engines["fingerprints"]
    assert [name for name, _ in spark_fits] == ["support_sentiment", "text_sentiment"]
    assert spark_fits == duckdb_fits


def test_v2_scores_are_the_stored_pipelines_predictions(both_engines):
    """Independently of DuckDB: each v2 score is scikit-learn's Pipeline.predict, clipped to [-1, 1], of
    the model Spark stored for its source, on the masked text."""
    from ltv import build_cache

    warehouse = both_engines["warehouse"]
    models = {name: build_cache.deserialize(bytes(data)) for name, data in duckdb.sql(
        f"select model_name, model_bytes from {spark_parquet(warehouse, 'registry.db/fitted_models')}").fetchall()}
    scored = duckdb.sql(f"""
        select scores.text_source, any_value(texts.masked_text) as text, any_value(scores.polarity) as polarity
        from {spark_parquet(warehouse, 'ml.db/ml_text_sentiment_v2')} as scores
        join {spark_parquet(warehouse, 'intermediate.db/int_texts_masked')} as texts using (text_source, text_hash)
        group by scores.text_source, scores.text_hash""").df()
    assert set(scored["text_source"]) == {"review", "support_message"}
    for source, model_name in (("review", "text_sentiment"), ("support_message", "support_sentiment")):
        part = scored[scored["text_source"] == source]
        expected = np.clip(models[model_name].predict(part["text"].tolist()), -1.0, 1.0)
        np.testing.assert_array_equal(part["polarity"].to_numpy(), expected)


def test_experience_scores_weights_and_holdout_by_their_definition(both_engines):
    """Independently of DuckDB: v1 is the published formula; v2's weights are LinearRegression's on
    the rated conversations outside experience.holdout_split's ids; the metrics are numpy's on those ids."""
    from sklearn.linear_model import LinearRegression

    from ltv.experience import V2_FEATURES, holdout_split

    v1, v2 = (both_engines["spark"][f"ml.db/ml_conversation_experience_v{version}"].set_index("conversation_id")
              .sort_index() for version in (1, 2))
    normalized = 1.0 - v1["response_hours"].clip(0.0, 72.0) / 72.0
    expected_v1 = 0.5 * v1["sentiment"].fillna(0.0) + 0.5 * normalized
    np.testing.assert_array_equal(v1["normalized_response_time"].to_numpy(), normalized.to_numpy())
    np.testing.assert_array_equal(v1["experience_score"].to_numpy(), expected_v1.to_numpy())
    np.testing.assert_allclose(v1["predicted_satisfaction"], 1.0 + (expected_v1 + 0.5) * 4.0 / 1.5, rtol=0, atol=1e-12)

    run = next(json.loads(row[-2]) for row in both_engines["spark_runs"] if row[:2] == ("conversation_experience", "2"))
    rated = v2[v2["satisfaction_rating"].notna()]
    _, held = holdout_split(pd.Series(rated.index), seed=run["seed"])
    features = np.column_stack([rated["sentiment"].fillna(0.0), rated["normalized_response_time"],
                                np.log1p(rated["response_hours"].clip(lower=0.0))])
    train = ~rated.index.isin(held)
    reference = LinearRegression().fit(features[train], rated["satisfaction_rating"].to_numpy(float)[train])
    assert run["intercept"] == pytest.approx(reference.intercept_, abs=1e-9)
    assert [run["coefficients"][name] for name in V2_FEATURES] == pytest.approx(list(reference.coef_), abs=1e-9)
    for version, scores in (("1", v1), ("2", v2)):
        metrics = next(json.loads(row[-1]) for row in both_engines["spark_runs"]
                       if row[:2] == ("conversation_experience", version))
        errors = scores.loc[held, "predicted_satisfaction"] - scores.loc[held, "satisfaction_rating"]
        assert metrics["mse"] == pytest.approx(float(np.mean(errors**2)), abs=1e-12)
        assert metrics["mae"] == pytest.approx(float(np.mean(np.abs(errors))), abs=1e-12)


def test_a_second_spark_run_reuses_the_stored_fits(both_engines):
    """The fits' training rows did not change, so the second run of v2 (spark_demo's, after the build)
    scored with the stored models: no new fit is recorded or stored, and every score is the first run's."""
    warehouse = both_engines["warehouse"]
    runs = duckdb.sql(RUNS.format(spark_parquet(warehouse, "registry.db/model_run_log"))).fetchall()
    assert runs == both_engines["spark_runs"]
    fits = duckdb.sql(f"select model_name, training_fingerprint from "
                      f"{spark_parquet(warehouse, 'registry.db/fitted_models')} where model_name in {TEXT_FITS} "
                      "order by 1").fetchall()
    assert fits == both_engines["fingerprints"][1]
    rescored = duckdb.sql(f"select * from {spark_parquet(warehouse, 'ml.db/ml_text_sentiment_v2')}").df()
    first = both_engines["spark"]["ml.db/ml_text_sentiment_v2"]
    keys = ["text_source", "text_hash"]
    pd.testing.assert_frame_equal(rescored.sort_values(keys).reset_index(drop=True),
                                  first.sort_values(keys).reset_index(drop=True))


# --- v1 and the masked texts on Spark equal DuckDB's ------------------------------------------------------------
#
# int_texts_masked (masking in the executors' Python workers, source_hash by DuckDB there, text_hash by
# Spark's sha2), ml_text_sentiment v1 (TextBlob in the workers) and ml_sentiment_evaluation (rank
# metrics as Spark aggregates), from the shared demo builds; Spark's Parquet tables are read back
# without Spark.

TEXT_TABLES = {  # Spark's table folder -> (DuckDB table, key columns)
    "intermediate.db/int_texts_masked": ("intermediate.int_texts_masked", ["text_source", "source_id"]),
    "ml.db/ml_text_sentiment_v1": ("ml.ml_text_sentiment_v1", ["text_source", "text_hash"]),
    "ml.db/ml_sentiment_evaluation": ("ml.ml_sentiment_evaluation", ["text_source"]),
}


def test_the_text_branch_on_spark_has_duckdbs_rows(demo_warehouse, spark_demo):
    with duckdb.connect(str(demo_warehouse), read_only=True) as connection:
        for folder, (table, keys) in TEXT_TABLES.items():
            spark_frame = connection.sql(f"select * from {spark_parquet(spark_demo / 'warehouse', folder)}").df()
            assert_same_keyed_rows(spark_frame, connection.sql(f"select * from {table}").df(), keys, table, TOLERANCE,
                                   min_rows=1 if "evaluation" in table else 1000)


def test_spark_scores_are_textblobs_and_hashes_the_texts_sha256(spark_demo):
    """Independently of the DuckDB build: Spark's text_hash is the SHA-256 of the masked text, and its
    v1 polarity and subjectivity are TextBlob's own for the English texts."""
    import hashlib

    from textblob import TextBlob

    warehouse = spark_demo / "warehouse"
    texts = duckdb.sql(f"""
        select texts.masked_text, texts.text_hash, scores.polarity, scores.subjectivity, scores.not_scored_reason
        from read_parquet('{warehouse}/intermediate.db/int_texts_masked/*.parquet') as texts
        join read_parquet('{warehouse}/ml.db/ml_text_sentiment_v1/*.parquet') as scores
            using (text_source, text_hash)
        order by texts.text_hash limit 300""").fetchall()
    assert len(texts) == 300
    english = 0
    for masked_text, text_hash, polarity, subjectivity, reason in texts:
        assert text_hash == hashlib.sha256(masked_text.encode()).hexdigest()
        if reason is None:
            english += 1
            assert (polarity, subjectivity) == tuple(TextBlob(masked_text).sentiment)
        else:
            assert reason == "not_english" and polarity is None and subjectivity is None
    assert english > 200


def test_spark_records_the_evaluation_runs_duckdb_records(demo_warehouse, spark_demo):
    warehouse = spark_demo / "warehouse"
    query = """select model_name, model_version, method, status, message, train_rows, holdout_rows, cutoff_date,
                      horizon_days, parameters_json, metrics_json from {} where method = 'textblob' order by model_name"""
    with duckdb.connect(str(demo_warehouse), read_only=True) as connection:
        expected = connection.sql(query.format("registry.model_run_log")).fetchall()
        recorded = connection.sql(query.format(
            f"read_parquet('{warehouse}/registry.db/model_run_log/*.parquet')")).fetchall()
    assert [row[0] for row in expected] == ["support_sentiment", "text_sentiment"]
    assert [row[:-2] for row in recorded] == [row[:-2] for row in expected]
    for spark_row, duckdb_row in zip(recorded, expected, strict=True):
        assert json.loads(spark_row[-2]) == json.loads(duckdb_row[-2])
        spark_metrics, duckdb_metrics = json.loads(spark_row[-1]), json.loads(duckdb_row[-1])
        assert spark_metrics.keys() == duckdb_metrics.keys()
        assert all(_same(spark_metrics[name], duckdb_metrics[name]) for name in duckdb_metrics), (
            spark_metrics, duckdb_metrics)


# --- Paths the demo does not take, on a local session of this process -----------------------------------


@pytest.fixture(scope="module")
def local_spark(tmp_path_factory):
    from ltv.engines.frames import SparkFrames

    session = local_spark_session(tmp_path_factory, "ltv-text-models-test", master="local[2]", partitions=3)
    yield SparkFrames(session)
    session.stop()


def test_the_holdout_is_holdout_splits_over_many_partitions(local_spark):
    """Spark's held-out ids are experience.holdout_split's, whatever the partitions and however the ids
    sort (numbers, letters, accents, characters beyond the BMP), and for 0 or 1 ids."""
    from ltv.engines.spark_experience import holdout_ids
    from ltv.experience import holdout_split

    generator = np.random.default_rng(3)
    alphabet = list("0123456789abcXYZ-_éΩ😀")
    ids = sorted({"".join(generator.choice(alphabet, size=generator.integers(1, 8))) for _ in range(3000)})
    for count, seed in ((len(ids), 7), (1, 42), (0, 42)):
        chosen = list(generator.permutation(ids)[:count])
        frame = local_spark.session.createDataFrame(pd.DataFrame({"conversation_id": chosen}),
                                                    "conversation_id string").repartition(5)
        held = holdout_ids(frame, seed)
        spark_held = sorted(row[0] for row in held.collect())
        held.unpersist()
        expected = sorted(holdout_split(pd.Series(chosen, dtype=object), seed=seed)[1]) if count else []
        assert spark_held == expected, count
        assert (0.15 * count < len(expected) < 0.25 * count) if count > 1 else len(expected) == count, count


def _conversations(rows: int, rated: int, seed: int) -> pd.DataFrame:
    """Conversations with missing sentiments and response times, negative and capped hours."""
    generator = np.random.default_rng(seed)
    hours = generator.choice([np.nan, -2.0, 0.0, 0.5, 12.0, 71.9, 72.0, 300.0], size=rows)
    return pd.DataFrame({
        "conversation_id": [f"C{number:05d}" for number in generator.permutation(rows)],
        "user_id": [f"U{number % 7}" for number in range(rows)],
        "response_hours": hours,
        "sentiment": np.where(generator.random(rows) < 0.2, np.nan, generator.uniform(-1, 1, rows)),
        "satisfaction_rating": pd.array([int(generator.integers(1, 6)) if number < rated else None
                                         for number in range(rows)], dtype="Int32"),
    })


@pytest.mark.parametrize(("rows", "rated"), [(0, 0), (40, 20), (300, 150)])
def test_experience_on_spark_is_fit_experiences(local_spark, rows, rated):
    """Each version's rows and run equal ltv.experience.fit_experience's on conversations with missing
    values: none at all, too few rated for a holdout (v1 unevaluated, v2 skipped), and enough."""
    from pyspark.sql import functions as F

    from ltv.engines.spark_experience import _scored, _with_features
    from ltv.experience import fit_experience

    conversations = _conversations(rows, rated, seed=rows)
    records = [(row.conversation_id, row.user_id, *(None if pd.isna(value) else float(value)
                                                    for value in (row.response_hours, row.sentiment)),
                None if pd.isna(row.satisfaction_rating) else int(row.satisfaction_rating))
               for row in conversations.itertuples(index=False)]
    frame = local_spark.session.createDataFrame(
        records, "conversation_id string, user_id string, response_hours double, sentiment double, "
                 "satisfaction_rating int")
    for version in (1, 2):
        expected_scores, expected_run = fit_experience(conversations.drop(columns="user_id"), version, seed=42)
        scored, run = _scored(_with_features(frame), version, 42)
        assert run.keys() == expected_run.keys()
        assert {key: run[key] for key in run if key not in ("parameters", "metrics")} == {
            key: expected_run[key] for key in run if key not in ("parameters", "metrics")}
        for part in ("parameters", "metrics"):
            spark_values, expected_values = pd.json_normalize(run[part]), pd.json_normalize(expected_run[part])
            assert list(spark_values.columns) == list(expected_values.columns)
            assert all(_same(spark_values[name][0], expected_values[name][0]) for name in expected_values), part
        if scored is None:
            assert expected_scores.empty
            continue
        spark_scores = scored.select("conversation_id", "experience_score", "predicted_satisfaction",
                                     F.col("x_response").alias("normalized_response_time")).toPandas()
        spark_scores = spark_scores.sort_values("conversation_id").reset_index(drop=True)
        expected_scores = expected_scores.sort_values("conversation_id").reset_index(drop=True)
        assert spark_scores["conversation_id"].tolist() == expected_scores["conversation_id"].tolist()
        for column in ("experience_score", "predicted_satisfaction", "normalized_response_time"):
            np.testing.assert_allclose(spark_scores[column].to_numpy(float), expected_scores[column].to_numpy(float),
                                       rtol=0, atol=TOLERANCE, equal_nan=True, err_msg=f"v{version} {column}")

