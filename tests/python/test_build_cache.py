"""Fingerprints change exactly when the data does, and reuse gives what recomputing gives."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from ltv import build_cache, user_value
from ltv.build_cache import FittedModelStore, relation_fingerprint, remember_output, reusable_output


@pytest.fixture
def connection():
    connection = duckdb.connect()
    connection.execute("create schema registry")
    connection.execute("create table registry.dbt_invocations (invocation_id varchar, started_at timestamp)")
    connection.execute("insert into registry.dbt_invocations values ('run-1', now())")
    connection.execute("""create table registry.fitted_models (model_name varchar, model_version varchar,
        training_fingerprint varchar, trained_at timestamp, model_bytes blob,
        primary key (model_name, model_version, training_fingerprint))""")
    connection.execute("""create table registry.output_fingerprints (relation_name varchar primary key,
        fingerprint varchar, invocation_id varchar, confirmed boolean, recorded_at timestamp)""")
    yield connection
    connection.close()


def test_relation_fingerprint_sees_content_not_order(connection):
    connection.execute("create table t as select * from (values (1, 'a'), (2, 'b'), (3, null)) v(id, label)")
    base = relation_fingerprint(connection.sql("select * from t"))
    assert base == relation_fingerprint(connection.sql("select * from t order by id desc"))
    assert base != relation_fingerprint(connection.sql("select id, case when id = 2 then 'B' else label end as label from t"))
    assert base != relation_fingerprint(connection.sql("select * from t union all select * from t where id = 1"))
    assert base != relation_fingerprint(connection.sql("select * from t where id < 3"))
    # Swapping values between rows keeps the column sums but not the row hashes.
    swapped = connection.sql("select id, case id when 1 then 'b' when 2 then 'a' else label end as label from t")
    assert base != relation_fingerprint(swapped)
    # Only the named columns count.
    assert relation_fingerprint(connection.sql("select id from t"), ["id"]) == relation_fingerprint(
        connection.sql("select id, 'x' as other from t"), ["id"])


def test_frame_fingerprint_sees_values_and_types():
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    assert build_cache.frame_fingerprint(frame) == build_cache.frame_fingerprint(frame.copy())
    assert build_cache.frame_fingerprint(frame) != build_cache.frame_fingerprint(frame.assign(a=[1, 3]))
    assert build_cache.frame_fingerprint(frame) != build_cache.frame_fingerprint(frame.astype({"a": "float64"}))


def test_output_is_reused_only_once_confirmed_and_unchanged(connection):
    connection.execute("create table main.out as select 42 as answer")
    remember_output(connection, "main.out", "fp-1")
    assert reusable_output(connection, "main.out", "fp-1") is None  # dbt has not confirmed the write
    connection.execute("update registry.output_fingerprints set confirmed = true")
    assert reusable_output(connection, "main.out", "fp-1").fetchall() == [(42,)]
    assert reusable_output(connection, "main.out", "fp-2") is None  # inputs changed
    assert reusable_output(connection, None, "fp-1") is None
    connection.execute("drop table main.out")
    assert reusable_output(connection, "main.out", "fp-1") is None  # the table is gone
    # A new build of the table un-confirms the old fingerprint until its own write is confirmed.
    connection.execute("create table main.out as select 42 as answer")
    remember_output(connection, "main.out", "fp-1")
    assert reusable_output(connection, "main.out", "fp-1") is None


def _features(n_users: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    activity = 1.0 / (rng.integers(0, 400, n_users) + 1)
    frequency = rng.poisson(2, n_users) / (rng.integers(30, 400, n_users) + 1)
    amount = frequency * rng.gamma(2, 20, n_users)
    label = 100 * activity + 500 * amount + rng.normal(0, 1, n_users)
    return pd.DataFrame({"user_id": [f"u{i:04d}" for i in range(n_users)], "activity": activity,
                         "frequency": frequency, "amount": amount, "future_net_spend": label})


def test_a_stored_user_value_fit_scores_like_a_fresh_one(connection):
    """What the dbt model reuses (a pickled UserValueFit from the registry) predicts exactly what
    fitting and predicting in one go does."""
    at_cutoff = _features(400, seed=1)
    latest = _features(450, seed=2).drop(columns="future_net_spend")
    fit = user_value.fit_user_value(at_cutoff, version=1)
    assert fit.run["status"] == "fitted"
    store = FittedModelStore(connection, "user_value", 1)
    store.store("fingerprint-a", fit)
    assert store.load("fingerprint-b") is None
    predictions, run = user_value.score_user_value(store.load("fingerprint-a"), latest)
    expected, expected_run = user_value.predict_user_value(at_cutoff, latest, version=1)
    pd.testing.assert_frame_equal(predictions, expected)
    assert run == expected_run
    # Holdout users keep their holdout prediction and label in the scored table.
    holdout = predictions.loc[predictions["split"] == "holdout"]
    assert len(holdout) == run["holdout_rows"] and holdout["holdout_actual_spend"].notna().all()


def test_code_fingerprint_of_a_package_covers_every_module_in_it(tmp_path, monkeypatch):
    import importlib

    from ltv.build_cache import code_fingerprint

    package = tmp_path / "fingerprinted_package"
    package.mkdir()
    (package / "__init__.py").write_text("from fingerprinted_package.detectors import VALUE\n")
    (package / "detectors.py").write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("fingerprinted_package")
    before = code_fingerprint(module)
    (package / "detectors.py").write_text("VALUE = 2\n")
    assert code_fingerprint(module) != before


def test_stored_fits_are_compressed_only_when_it_pays_and_old_pickles_still_load():
    import pickle

    from ltv.build_cache import COMPRESSED_PREFIX, deserialize, serialize

    # Like sentiment v2's model: large arrays that are nearly all one value.
    sparse_like = {"idf": np.full(1 << 18, 7.5), "coef": np.zeros(1 << 18), "name": "ridge"}
    sparse_like["coef"][[3, 77, 1 << 17]] = [0.5, -1.25, 2.0]
    stored = serialize(sparse_like)
    plain = pickle.dumps(sparse_like, protocol=pickle.HIGHEST_PROTOCOL)
    assert stored.startswith(COMPRESSED_PREFIX) and len(stored) < len(plain) / 20
    loaded = deserialize(stored)
    assert np.array_equal(loaded["idf"], sparse_like["idf"]) and np.array_equal(loaded["coef"], sparse_like["coef"])
    # Random floats do not shrink by half: stored as the plain pickle, not compressed for nothing.
    noise = np.random.default_rng(0).random(1 << 17)
    assert serialize(noise) == pickle.dumps(noise, protocol=pickle.HIGHEST_PROTOCOL)
    # Small objects too; and a plain pickle stored before compression existed loads as it is.
    assert serialize({"a": 1}) == pickle.dumps({"a": 1}, protocol=pickle.HIGHEST_PROTOCOL)
    assert np.array_equal(deserialize(plain)["coef"], sparse_like["coef"])
