"""Text: masking personal data, sentiment, and the experience of support conversations."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from ltv.build_cache import FittedModelStore
from ltv.dbt_entrypoints.common import _as_date, _metric_value, model_settings, reuse_allowed, text_frame
from ltv.registry import record_run

TEXTBLOB_FINGERPRINT = "textblob-0.20.1-pattern-analyzer"
MIN_SENTIMENT_TRAINING_REVIEWS = 50
SENTIMENT_COLUMNS = ["text_source", "text_hash", "model_version", "polarity", "subjectivity", "language",
                     "not_scored_reason", "model_fingerprint"]


def _sentiment_schema():
    """The columns of ml_text_sentiment vN. Typed even when nothing is scored: an untyped empty
    column reaches DuckDB as type NULL, which the incremental models'
    on_schema_change='sync_all_columns' would take for a change of column type."""
    import pyarrow as pa

    return pa.schema([("text_source", pa.string()), ("text_hash", pa.string()), ("model_version", pa.int64()),
                      ("polarity", pa.float64()), ("subjectivity", pa.float64()), ("language", pa.string()),
                      ("not_scored_reason", pa.string()), ("model_fingerprint", pa.string())])


MASKED_TEXT_COLUMNS = ("text_source varchar, source_id varchar, user_id varchar, written_at timestamp, "
                       "rating bigint, is_truncated boolean, masked_text varchar, text_hash varchar, source_hash varchar")


def _mask_texts(texts: pd.DataFrame, max_characters: int, phone_region: str) -> pd.DataFrame:
    """Clean, mask, neutralise and cut original_text. Empty texts get a null text. A text starting
    with a spreadsheet formula character gets a leading apostrophe: BI users export masked_text to
    CSV and open it in a spreadsheet (OWASP's CSV-injection rule). The text hash is added in DuckDB
    (_HASHED_COLUMNS)."""
    from ltv.text_privacy import clean_and_mask_personal_data, neutralise_formula

    texts = texts.copy()
    masked = neutralise_formula(clean_and_mask_personal_data(texts["original_text"], default_region=phone_region))
    texts["is_truncated"] = masked.str.len().fillna(0) > max_characters
    texts["masked_text"] = masked.str.slice(0, max_characters)
    texts["written_at"] = pd.to_datetime(texts["written_at"]).astype("datetime64[us]")
    texts["rating"] = pd.to_numeric(texts["rating"]).astype("Int64")
    return texts.drop(columns="original_text")


def texts_masked(connection, reviews, conversations, settings_frame: pd.DataFrame, this: str | None = None):
    """int_texts_masked: every review comment and support message, HTML stripped, personal data
    masked, cut to ltv_max_text_characters, with the hash that keys sentiment scores. Empty and
    whitespace-only texts stay as rows with a null text and hash (they are not scored).

    source_hash (md5 of the source row, the masking settings and code) lets a rebuild copy the rows
    whose source did not change from the last table and mask only new or changed ones; the table
    is always exactly the current sources' rows, as a full build would make it."""
    from ltv import build_cache, sentiment, text_privacy

    settings = model_settings(settings_frame) if len(settings_frame) else {}
    max_characters = int(settings.get("max_text_characters", 5000))
    phone_region = str(settings.get("phone_default_region") or text_privacy.DEFAULT_REGION)
    # The detectors' libraries are part of the masking: a newer libphonenumber metadata masks more.
    masking = build_cache.combine("texts_masked", max_characters, phone_region, text_privacy.DETECTOR_LIBRARIES,
                                  build_cache.code_fingerprint(text_privacy, sentiment, sys.modules[__name__]))
    current = reviews.project(
        "'review' as text_source, cast(review_id as varchar) as source_id, cast(user_id as varchar) as user_id, "
        "cast(created_at as timestamp) as written_at, cast(rating as bigint) as rating, comment as original_text"
    ).union(conversations.project(
        "'support_message' as text_source, cast(conversation_id as varchar) as source_id, "
        "cast(user_id as varchar) as user_id, cast(opened_at as timestamp) as written_at, "
        "cast(null as bigint) as rating, message as original_text"))
    source_hash = ("*, md5(cast(struct_pack(text_source, source_id, user_id, written_at, rating, original_text) "
                   f"as varchar) || '{masking}') as source_hash")
    same_row = ("previous.text_source = current.text_source and previous.source_id = current.source_id "
                "and previous.source_hash = current.source_hash")
    column_list = ", ".join(f"cast({column.split()[0]} as {column.split()[1]}) as {column.split()[0]}"
                            for column in MASKED_TEXT_COLUMNS.split(", "))
    # ltv.sentiment.text_hash, computed by DuckDB's sha256 (the same hex digest of the UTF-8 bytes,
    # null for a null text) on its own threads: in Python it held the interpreter lock ~3 s a million.
    hashed_list = column_list.replace("cast(text_hash as varchar)", "sha256(masked_text)")
    previous = None
    if this is not None and reuse_allowed(settings) and build_cache.relation_exists(connection, this):
        previous = connection.table(this)
        if "source_hash" not in previous.columns:  # a table from before source_hash existed
            previous = None
    if previous is None:
        masked = connection.from_df(_mask_texts(text_frame(current.project(source_hash)), max_characters, phone_region))
        return masked.project(hashed_list).order("text_source, source_id")
    # Every text is hashed once, into a temporary table of keys and hashes; only the few rows whose
    # hash is new are read again in full (and hashed again) to be masked.
    connection.register("ltv_texts_masked_hashing",
                        current.project(source_hash).project("text_source, source_id, source_hash"))
    connection.execute("create or replace temporary table ltv_texts_masked_current_hashes as "
                       "select * from ltv_texts_masked_hashing")
    hashes = connection.table("ltv_texts_masked_current_hashes").set_alias("current")
    kept = previous.set_alias("previous").join(hashes, same_row, how="semi")
    changed_keys = hashes.join(previous.set_alias("previous"), same_row, how="anti").set_alias("changed")
    changed = current.set_alias("current").join(
        changed_keys, "current.text_source = changed.text_source and current.source_id = changed.source_id",
        how="semi").project(source_hash)
    newly_masked = connection.from_df(_mask_texts(text_frame(changed), max_characters, phone_region))
    return kept.project(column_list).union(newly_masked.project(hashed_list)).order("text_source, source_id")


def _training_texts(texts, settings: dict, source: str):
    """Texts of one source with a rating (stars; satisfaction for support) written up to the cut-off:
    new texts after it are scored by the same model (no retraining, so incremental runs stay cheap)
    and the training set moves only when the cut-off does."""
    training = texts.filter(f"text_source = '{source}' and text_hash is not null and rating is not null")
    if settings.get("cutoff_date") is not None:
        cutoff_end = (pd.Timestamp(settings["cutoff_date"]) + pd.Timedelta(days=1)).strftime("%Y-%m-%d")
        training = training.filter(f"written_at < timestamp '{cutoff_end}'")
    return training


def _record_sentiment_run(connection, settings: dict, run: dict) -> None:
    record_run(connection, run, cutoff_date=_as_date(settings.get("cutoff_date")),
               horizon_days=settings.get("horizon_days"))


def review_model_run(version: int, training_rows: int, fingerprint: str | None = None,
                     cross_validation: dict | None = None) -> dict:
    """The registry run of the review model (both engines record it): skipped with too few rated
    reviews (no fingerprint), else fitted with its out-of-fold metrics."""
    run = {"model_name": "text_sentiment", "model_version": version, "method": "tfidf_ridge", "train_rows": training_rows}
    if fingerprint is None:
        return {**run, "status": "skipped", "message": f"only {training_rows} rated reviews up to the cut-off; "
                                                       f"v{version} needs at least {MIN_SENTIMENT_TRAINING_REVIEWS}"}
    return {**run, "status": "fitted", "holdout_rows": training_rows,
            "message": "reviews: 5-fold cross-validated on review stars; metrics are out-of-fold",
            "parameters": {"training_fingerprint": fingerprint, "text_source": "review"}, "metrics": cross_validation}


def _review_model(connection, texts, settings: dict, version: int):
    """(review model, fingerprint), trained on rated reviews or reused; (None, None) when too few."""
    from ltv import build_cache, sentiment

    training = _training_texts(texts, settings, "review")
    training_rows = training.count("*").fetchall()[0][0]
    if training_rows < MIN_SENTIMENT_TRAINING_REVIEWS:
        _record_sentiment_run(connection, settings, review_model_run(version, training_rows))
        return None, None
    # What training reads: the (text, stars) pairs (a text_hash stands for its text) and the code.
    fingerprint = build_cache.combine(sentiment.MODEL_SPEC, build_cache.relation_fingerprint(
        training, ["text_hash", "rating"]), build_cache.code_fingerprint(sentiment))
    fitted_models = FittedModelStore(connection, "text_sentiment", version)
    model = fitted_models.load(fingerprint)
    if model is None:
        from ltv.sentiment.trained_v2 import MAX_TRAINING_ROWS, TRAINING_SAMPLE_ORDER

        # Training keeps a bounded sample, the first rows by text hash: taken here, only those rows
        # are loaded (at a million reviews, loading and hashing the rest cost seconds).
        frame = training.order(", ".join(TRAINING_SAMPLE_ORDER)).limit(MAX_TRAINING_ROWS).project(
            "masked_text, rating").df()
        model, cross_validation = sentiment.train_sentiment_model(
            frame["masked_text"].tolist(), frame["rating"].astype(int).to_numpy(),
            seed=int(settings.get("random_seed", 42)))
        fitted_models.store(fingerprint, model)
        _record_sentiment_run(connection, settings, review_model_run(version, training_rows, fingerprint,
                                                                     cross_validation))
    return model, fingerprint


def support_model_run(version: int, training_rows: int, fingerprint: str, decision: dict) -> dict:
    """The registry run of the support model (both engines record it): which model support messages
    use, and why."""
    # The baseline is the review model; without a support model to compare there is no verdict.
    compared = decision["support_model"] is not None
    metrics = {**decision["metrics"], "beats_baseline": decision["model"] == "support" if compared else None}
    return {
        "model_name": "support_sentiment", "model_version": version,
        "method": "tfidf_ridge_on_satisfaction" if decision["model"] == "support" else "review_model",
        "status": "fitted", "train_rows": training_rows, "holdout_rows": training_rows,
        "message": f"support messages use the {decision['model']} model: {decision['reason']}",
        "parameters": {"training_fingerprint": fingerprint, "text_source": "support_message",
                       "model": decision["model"], "review_model_on_support": decision["review_model"],
                       "support_model_out_of_fold": decision["support_model"]},
        "metrics": metrics}


def _support_model(connection, texts, conversations, settings: dict, version: int, review_model, review_fingerprint):
    """(model for support messages, fingerprint): a model trained on satisfaction ratings where it
    ranks them better than the review model (ltv.sentiment.sources), recorded as support_sentiment."""
    from ltv import build_cache, sentiment
    from ltv.experience import holdout_split

    connection.register("ltv_support_sentiment_texts", texts)
    connection.register("ltv_support_sentiment_conversations", conversations)
    # The conversations conversation_experience v2 holds out to measure itself: its sentiment
    # feature must not have been trained on their satisfaction, or its holdout figures would flatter.
    rated = conversations.filter("satisfaction_rating is not null and response_hours is not null")
    _, held_out = holdout_split(rated.project("conversation_id").df()["conversation_id"],
                                seed=int(settings.get("random_seed", 42))) if rated.count("*").fetchall()[0][0] else (
        None, [])
    connection.register("ltv_support_sentiment_experience_holdout",
                        pd.DataFrame({"conversation_id": pd.Series(list(held_out), dtype="str")}))
    training = connection.sql("""
        select texts.text_source, texts.text_hash, texts.masked_text, texts.written_at,
               conversations.satisfaction_rating as rating, conversations.response_hours
        from ltv_support_sentiment_texts as texts
        inner join ltv_support_sentiment_conversations as conversations
            on texts.source_id = conversations.conversation_id
        where texts.text_source = 'support_message' and conversations.satisfaction_rating is not null
          and conversations.conversation_id not in (
              select conversation_id from ltv_support_sentiment_experience_holdout)""")
    training = _training_texts(training, settings, "support_message")
    fingerprint = build_cache.combine(review_fingerprint, build_cache.relation_fingerprint(
        training, ["text_hash", "rating", "response_hours"]))
    fitted_models = FittedModelStore(connection, "support_sentiment", version)
    stored = fitted_models.load(fingerprint)
    if stored is not None:
        return stored, fingerprint
    # A join hands rows over in no fixed order; the ridge fit and its folds follow the row order, so
    # two builds on the same data would train different support models without a sort.
    frame = training.order("text_hash, rating, response_hours").project("masked_text, rating, response_hours").df()
    model, decision = sentiment.choose_support_model(
        review_model, frame["masked_text"].tolist(), frame["rating"].astype(float).to_numpy(),
        frame["response_hours"].astype(float).to_numpy(), seed=int(settings.get("random_seed", 42)))
    fitted_models.store(fingerprint, model)
    _record_sentiment_run(connection, settings, support_model_run(version, len(frame), fingerprint, decision))
    return model, fingerprint


def _texts_to_score(connection, texts, fingerprints: dict[str, str], previous_relation: str | None):
    """Arrow table [text_source, text_hash, text], sorted: each (source, text) this version has not
    scored with the fingerprint it now uses for that source. Arrow, not pandas: the hashes only pass
    through to the result, and turning a million of them into Python strings and back held the
    interpreter lock for seconds."""
    connection.register("ltv_sentiment_texts", texts)
    fingerprint_of = " ".join(f"when '{source}' then '{value}'" for source, value in fingerprints.items())
    already = "false" if previous_relation is None else f"""exists (
        select 1 from {previous_relation} as previous
        where previous.text_source = texts.text_source and previous.text_hash = texts.text_hash
          and previous.model_fingerprint = case texts.text_source {fingerprint_of} end)"""
    # One text per hash: equal hashes are equal texts, so any_value is min's answer, cheaper.
    return connection.sql(f"""
        select text_source, text_hash, any_value(masked_text) as text
        from ltv_sentiment_texts as texts
        where text_hash is not null and text_source in ({", ".join(f"'{s}'" for s in fingerprints)})
          and not {already}
        group by text_source, text_hash
        order by text_source, text_hash""").arrow().read_all()


def _distinct_rows(hashes) -> tuple[np.ndarray, np.ndarray]:
    """(the first row of each distinct hash, each row's distinct hash number): a text in both
    sources is scored once by v1, which reads it the same way in both."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(hashes, pa.ChunkedArray):
        hashes = hashes.combine_chunks() if hashes.num_chunks else pa.array([], type=hashes.type)
    numbers = pc.dictionary_encode(hashes).indices.to_numpy(zero_copy_only=False).astype(np.int64)
    _, first = np.unique(numbers, return_index=True)  # numbers count up in order of first occurrence
    return first, numbers


def _sentiment_table(keys, version: int, polarity: np.ndarray, subjectivity: np.ndarray, language,
                     not_english: np.ndarray | None, fingerprint: str):
    """The result rows for `keys` (Arrow [text_source, text_hash, ...]): NaN scores become NULL, as
    they did when the result was a pandas frame."""
    import pyarrow as pa

    from ltv.sentiment import NOT_ENGLISH

    rows = keys.num_rows
    constant = pa.DictionaryArray.from_arrays(pa.array(np.zeros(rows, dtype=np.int32)), pa.array([fingerprint]))
    reason = pa.nulls(rows, pa.string()) if not_english is None else pa.DictionaryArray.from_arrays(
        pa.array(np.zeros(rows, dtype=np.int32), mask=~not_english), pa.array([NOT_ENGLISH])).cast(pa.string())
    return pa.table([keys["text_source"], keys["text_hash"], pa.array(np.full(rows, version, dtype=np.int64)),
                     pa.array(polarity, mask=np.isnan(polarity)), pa.array(subjectivity, mask=np.isnan(subjectivity)),
                     language, reason, constant.cast(pa.string())], schema=_sentiment_schema())


def _v1_scores(to_score, fingerprint: str):
    """v1 (TextBlob, English texts only) for each row of `to_score`, each distinct text scored once."""
    import pyarrow as pa

    from ltv.sentiment.arrow_texts import arrow_texts
    from ltv.sentiment.language import V1_LANGUAGES
    from ltv.sentiment.textblob_v1 import LANGUAGE_CODES, score_distinct_texts

    first, numbers = _distinct_rows(to_score["text_hash"])
    # Texts in both sources are few: most often every row is its own text, and a take would copy them all.
    distinct = to_score["text"] if len(first) == to_score.num_rows else to_score["text"].take(pa.array(first))
    # Read in place by the scoring workers: as Python strings a million texts took ~1 GB here.
    texts = arrow_texts(distinct) or distinct.to_pylist()
    polarity, subjectivity, codes = (values[numbers] for values in score_distinct_texts(texts, english_only=True))
    undetected = np.isnan(codes)
    code = np.where(undetected, 0, codes).astype(np.int32)
    language = pa.DictionaryArray.from_arrays(pa.array(code, mask=undetected), pa.array(list(LANGUAGE_CODES)))
    not_english = ~undetected & ~np.isin(code, [LANGUAGE_CODES.index(name) for name in V1_LANGUAGES])
    return _sentiment_table(to_score, 1, polarity, subjectivity, language.cast(pa.string()), not_english,
                            fingerprint)


def _v2_scores(to_score, models: dict, version: int):
    """v2 for each row of `to_score` (sorted by source), each source by its model, in `models` order."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from ltv.sentiment.trained_v2 import score_sentiment_model

    parts = []
    for source, (model, fingerprint) in models.items():
        source_rows = np.flatnonzero(pc.equal(to_score["text_source"], source).to_numpy(zero_copy_only=False))
        part = to_score.slice(int(source_rows[0]), len(source_rows)) if len(source_rows) else to_score.slice(0, 0)
        polarity = score_sentiment_model(model, part["text"]).to_numpy()
        parts.append(_sentiment_table(part, version, polarity, np.full(part.num_rows, np.nan),
                                      pa.nulls(part.num_rows, pa.string()), None, fingerprint))
    return pa.concat_tables(parts) if parts else _sentiment_schema().empty_table()


def _previous_of_this_layout(connection, previous_relation: str | None) -> str | None:
    """The previous table if it has this code's key and columns; otherwise None, after emptying it.

    A warehouse built by an older ltv keys scores by text_hash alone and lacks language and
    not_scored_reason. Its scores were made by other code, so they are all rescored: the rows go,
    and dbt's on_schema_change='sync_all_columns' then gives the emptied table the new columns before
    the new rows are inserted (a Python model's result is computed before dbt syncs the columns)."""
    if previous_relation is None:
        return None
    columns = {row[0] for row in connection.sql(f"select * from {previous_relation} limit 0").description}
    if set(SENTIMENT_COLUMNS) <= columns:
        return previous_relation
    connection.execute(f"delete from {previous_relation}")
    return None


def text_sentiment(connection, texts, settings_frame: pd.DataFrame, version: int,
                   previous_relation: str | None = None, conversations=None):
    """ml_text_sentiment vN (incremental on text_source + text_hash): score each distinct text of a
    source not scored before by this version. v1 is TextBlob, on English texts only (the others get
    NULL with not_scored_reason). v2: reviews by a model trained on the shop's own rated reviews,
    support messages by the model that validates best on support satisfaction (`conversations`).
    Each is retrained only when its training data changed, and then every text of that source is
    scored again so that the table never mixes two models for one source. `texts` is the
    int_texts_masked relation: which texts are new and whether the training data changed are
    worked out in DuckDB, so an incremental run loads only the texts it scores. Returns an Arrow
    table (dbt writes it without a pass through Python objects)."""
    from ltv import build_cache

    previous_relation = _previous_of_this_layout(connection, previous_relation)
    if version == 1:
        from ltv.sentiment import language, textblob_v1

        fingerprint = build_cache.combine(TEXTBLOB_FINGERPRINT, build_cache.code_fingerprint(language, textblob_v1))
        to_score = _texts_to_score(connection, texts, {"review": fingerprint, "support_message": fingerprint},
                                   previous_relation)
        return _v1_scores(to_score, fingerprint)
    settings = model_settings(settings_frame) if len(settings_frame) else {}
    review_model, review_fingerprint = _review_model(connection, texts, settings, version)
    if review_model is None:
        return _sentiment_schema().empty_table()
    models = {"review": (review_model, review_fingerprint)}
    has_messages = texts.filter("text_source = 'support_message' and text_hash is not null").limit(1)
    if conversations is not None and len(has_messages.fetchall()):
        models["support_message"] = _support_model(connection, texts, conversations, settings, version,
                                                   review_model, review_fingerprint)
    to_score = _texts_to_score(connection, texts, {source: fp for source, (_, fp) in models.items()},
                               previous_relation)
    return _v2_scores(to_score, models, version)


def sentiment_evaluation_runs(connection, texts, scores_v1, settings_frame: pd.DataFrame,
                              conversations=None) -> pd.DataFrame:
    """ml_sentiment_evaluation: TextBlob (v1) is not fitted, so each build measures it against the
    stars of every rated review (text_sentiment v1) and the satisfaction of every rated support
    message (support_sentiment v1), over the texts it scores (English); v2 records its out-of-fold
    metrics when it is trained. Also records the share of the shop's texts v1 could read.

    texts and scores_v1 are DuckDB relations, joined in DuckDB: only the (polarity, rating) pairs
    reach Python, not a million text hashes."""
    from ltv.sentiment import sentiment_evaluation

    settings = model_settings(settings_frame) if len(settings_frame) else {}
    connection.register("ltv_sentiment_evaluation_texts", texts)
    connection.register("ltv_sentiment_evaluation_scores", scores_v1)
    rating = "texts.rating"
    join_conversations = ""
    if conversations is not None:
        connection.register("ltv_sentiment_evaluation_conversations", conversations)
        rating = "coalesce(texts.rating, conversations.satisfaction_rating)"
        join_conversations = """left join ltv_sentiment_evaluation_conversations as conversations
            on texts.text_source = 'support_message' and texts.source_id = conversations.conversation_id"""
    joined = connection.sql(f"""
        select texts.text_source, scores.polarity, scores.not_scored_reason, {rating} as rating
        from ltv_sentiment_evaluation_texts as texts
        inner join ltv_sentiment_evaluation_scores as scores
            on texts.text_source = scores.text_source and texts.text_hash = scores.text_hash
        {join_conversations}
        order by texts.text_source, texts.source_id""").df()
    rows = []
    for source, model_name in (("review", "text_sentiment"), ("support_message", "support_sentiment")):
        part = joined[joined["text_source"] == source]
        rated = part[part["rating"].notna()]
        metrics = sentiment_evaluation(rated["polarity"].to_numpy(), rated["rating"].astype(int).to_numpy())
        english_share = float(part["not_scored_reason"].isna().mean()) if len(part) else None
        metrics.update({"english_text_share": english_share, "texts": len(part),
                        "metric_status": "ok" if metrics["rows"] else
                        "not_english" if len(rated) else "no_rated_texts"})
        if source == "support_message" and not len(part):
            continue
        run = {"model_name": model_name, "model_version": 1, "method": "textblob", "status": "fitted",
               "message": f"not fitted: evaluated against the {'stars' if source == 'review' else 'satisfaction'} "
                          f"of every rated {source.replace('_', ' ')} TextBlob could read (English)",
               "train_rows": 0, "holdout_rows": metrics["rows"], "parameters": {"analyzer": TEXTBLOB_FINGERPRINT},
               "metrics": metrics}
        if len(settings_frame):
            _record_sentiment_run(connection, settings, run)
        rows.append({"text_source": source, "model_version": 1, "metric_status": metrics.pop("metric_status"),
                     **{key: _metric_value(value) for key, value in metrics.items()}})
    return pd.DataFrame(rows)


def conversation_experience(connection, conversations, texts, sentiment_scores, settings_frame: pd.DataFrame,
                            version: int) -> pd.DataFrame:
    """ml_conversation_experience vN: experience score per support conversation from the message's
    sentiment (sentiment version N) and the response time; v1 the published fixed weights, v2
    weights fitted against satisfaction. Both measured on the same holdout conversations.

    conversations, texts and sentiment_scores are DuckDB relations, joined in DuckDB, so that only
    the conversations' rows reach pandas, not the scores of every review."""
    from ltv.experience import fit_experience

    settings = model_settings(settings_frame) if len(settings_frame) else {}
    prefix = f"ltv_conversation_experience_v{version}"
    connection.register(f"{prefix}_conversations", conversations)
    connection.register(f"{prefix}_texts", texts)
    connection.register(f"{prefix}_scores", sentiment_scores)
    frame = connection.sql(f"""
        select conversations.conversation_id, conversations.user_id, conversations.response_hours,
               scores.polarity as sentiment, conversations.satisfaction_rating
        from {prefix}_conversations as conversations
        left join {prefix}_texts as messages
            on messages.text_source = 'support_message' and messages.source_id = conversations.conversation_id
        left join {prefix}_scores as scores
            on scores.text_source = 'support_message' and messages.text_hash = scores.text_hash
        order by conversations.conversation_id""").df()
    scores, run = fit_experience(
        frame[["conversation_id", "response_hours", "sentiment", "satisfaction_rating"]],
        version=version, seed=int(settings.get("random_seed", 42)))
    if len(settings_frame):
        record_run(connection, run, cutoff_date=_as_date(settings.get("cutoff_date")),
                   horizon_days=settings.get("horizon_days"))
    scores["model_version"] = version
    return frame.merge(scores, on="conversation_id", how="inner")
