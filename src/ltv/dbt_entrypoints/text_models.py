"""Text: masking personal data, sentiment, and the experience of support conversations."""

from __future__ import annotations

import sys

import pandas as pd

from ltv.build_cache import FittedModelStore
from ltv.dbt_entrypoints.common import _as_date, _metric_value, model_settings, reuse_allowed
from ltv.registry import record_run

TEXTBLOB_FINGERPRINT = "textblob-0.20.1-pattern-analyzer"
MIN_SENTIMENT_TRAINING_REVIEWS = 50
SENTIMENT_COLUMNS = ["text_hash", "model_version", "polarity", "subjectivity", "model_fingerprint"]


def _empty_sentiment_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "text_hash": pd.Series(dtype="string"), "model_version": pd.Series(dtype="int64"),
        "polarity": pd.Series(dtype="float64"), "subjectivity": pd.Series(dtype="float64"),
        "model_fingerprint": pd.Series(dtype="string"),
    })


MASKED_TEXT_COLUMNS = ("text_source varchar, source_id varchar, user_id varchar, written_at timestamp, "
                       "rating bigint, is_truncated boolean, masked_text varchar, text_hash varchar, source_hash varchar")


def _mask_texts(texts: pd.DataFrame, max_characters: int, phone_region: str) -> pd.DataFrame:
    """Clean, mask, neutralise and cut original_text; hash the result. Empty texts get a null text
    and hash. A text starting with a spreadsheet formula character gets a leading apostrophe: BI
    users export masked_text to CSV and open it in a spreadsheet (OWASP's CSV-injection rule)."""
    from ltv.sentiment import text_hash
    from ltv.text_privacy import clean_text, mask_personal_data, neutralise_formula

    texts = texts.copy()
    masked = neutralise_formula(mask_personal_data(clean_text(texts["original_text"]), default_region=phone_region))
    texts["is_truncated"] = masked.str.len().fillna(0) > max_characters
    texts["masked_text"] = masked.str.slice(0, max_characters)
    texts["text_hash"] = pd.Series(pd.NA, index=texts.index, dtype="string")
    present = texts["masked_text"].notna()
    texts.loc[present, "text_hash"] = text_hash(texts.loc[present, "masked_text"]).to_numpy()
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
    previous = None
    if this is not None and reuse_allowed(settings) and build_cache.relation_exists(connection, this):
        previous = connection.table(this)
        if "source_hash" not in previous.columns:  # a table from before source_hash existed
            previous = None
    if previous is None:
        masked = connection.from_df(_mask_texts(current.project(source_hash).df(), max_characters, phone_region))
        return masked.project(column_list).order("text_source, source_id")
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
    newly_masked = connection.from_df(_mask_texts(changed.df(), max_characters, phone_region))
    return kept.project(column_list).union(newly_masked.project(column_list)).order("text_source, source_id")


def text_sentiment(connection, texts, settings_frame: pd.DataFrame, version: int,
                   previous_relation: str | None = None) -> pd.DataFrame:
    """ml_text_sentiment vN (incremental on text_hash): score each distinct text not scored before
    by this version. v1 is TextBlob as it is. v2 is trained on the shop's own rated reviews; it is
    retrained only when that training data changed, and then every text is scored again so that
    the table never mixes two models. `texts` is the int_texts_masked relation: which texts are new
    and whether the training data changed are worked out in DuckDB, so an incremental run loads
    only the texts it scores."""
    from ltv import build_cache, sentiment
    from ltv.sentiment import score_texts, train_sentiment_model

    model = None
    if version == 1:
        fingerprint = TEXTBLOB_FINGERPRINT
    else:
        settings = model_settings(settings_frame) if len(settings_frame) else {}
        # Trained on the reviews written up to the cut-off: new reviews after it are scored by the
        # same model (no retraining, so incremental runs stay cheap) and the training set moves
        # only when the cut-off does.
        training = texts.filter("text_source = 'review' and text_hash is not null and rating is not null")
        if settings.get("cutoff_date") is not None:
            cutoff_end = (pd.Timestamp(settings["cutoff_date"]) + pd.Timedelta(days=1)).strftime("%Y-%m-%d")
            training = training.filter(f"written_at < timestamp '{cutoff_end}'")
        training_rows = training.count("*").fetchall()[0][0]
        if training_rows < MIN_SENTIMENT_TRAINING_REVIEWS:
            record_run(connection, {
                "model_name": "text_sentiment", "model_version": version, "method": "tfidf_ridge",
                "status": "skipped", "train_rows": training_rows,
                "message": f"only {training_rows} rated reviews up to the cut-off; "
                           f"v{version} needs at least {MIN_SENTIMENT_TRAINING_REVIEWS}",
            }, cutoff_date=_as_date(settings.get("cutoff_date")), horizon_days=settings.get("horizon_days"))
            return _empty_sentiment_frame()
        # What training reads: the (text, stars) pairs (a text_hash stands for its text) and the code.
        fingerprint = build_cache.combine(
            sentiment.MODEL_SPEC, build_cache.relation_fingerprint(training, ["text_hash", "rating"]),
            build_cache.code_fingerprint(sentiment))
        fitted_models = FittedModelStore(connection, "text_sentiment", version)
        model = fitted_models.load(fingerprint)
        if model is None:
            training_frame = training.project("masked_text, rating").df()
            model, cross_validation = train_sentiment_model(
                training_frame["masked_text"].tolist(), training_frame["rating"].astype(int).to_numpy(),
                seed=int(settings.get("random_seed", 42)))
            fitted_models.store(fingerprint, model)
            record_run(connection, {
                "model_name": "text_sentiment", "model_version": version, "method": "tfidf_ridge",
                "status": "fitted", "train_rows": training_rows, "holdout_rows": training_rows,
                "message": "5-fold cross-validated: metrics are out-of-fold",
                "parameters": {"training_fingerprint": fingerprint}, "metrics": cross_validation,
            }, cutoff_date=_as_date(settings.get("cutoff_date")), horizon_days=settings.get("horizon_days"))
    to_score = texts.filter("text_hash is not null")
    if previous_relation is not None:
        to_score = to_score.filter(
            f"text_hash not in (select text_hash from {previous_relation} where model_fingerprint = '{fingerprint}')")
    to_score = (to_score.aggregate("text_hash, min(masked_text) as text", "text_hash")
                .order("text_hash").df())
    scores = score_texts(to_score, version=version, model=model)
    scores["model_fingerprint"] = fingerprint
    scores["model_version"] = version
    return scores[SENTIMENT_COLUMNS]


def sentiment_evaluation_runs(connection, texts, scores_v1, settings_frame: pd.DataFrame) -> pd.DataFrame:
    """ml_sentiment_evaluation: TextBlob (v1) is not fitted, so each build measures it against the
    stars of every rated review and records that as v1's run (v2 records its out-of-fold metrics
    when it is trained).

    texts and scores_v1 are DuckDB relations, joined in DuckDB: only the (polarity, stars) pairs of
    rated reviews reach Python, not a million text hashes."""
    from ltv.sentiment import sentiment_evaluation

    settings = model_settings(settings_frame) if len(settings_frame) else {}
    connection.register("ltv_sentiment_evaluation_texts", texts)
    connection.register("ltv_sentiment_evaluation_scores", scores_v1)
    joined = connection.sql("""
        select scores.polarity, texts.rating
        from ltv_sentiment_evaluation_texts as texts
        inner join ltv_sentiment_evaluation_scores as scores on texts.text_hash = scores.text_hash
        where texts.text_source = 'review' and texts.rating is not null
        order by texts.source_id""").df()
    metrics = sentiment_evaluation(joined["polarity"].to_numpy(), joined["rating"].astype(int).to_numpy())
    run = {"model_name": "text_sentiment", "model_version": 1, "method": "textblob", "status": "fitted",
           "message": "not fitted: evaluated against the stars of every rated review",
           "train_rows": 0, "holdout_rows": len(joined), "parameters": {"analyzer": TEXTBLOB_FINGERPRINT},
           "metrics": metrics}
    if len(settings_frame):
        record_run(connection, run, cutoff_date=_as_date(settings.get("cutoff_date")),
                   horizon_days=settings.get("horizon_days"))
    return pd.DataFrame([{"model_version": 1, **{key: _metric_value(value) for key, value in metrics.items()}}])


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
        left join {prefix}_scores as scores on messages.text_hash = scores.text_hash
        order by conversations.conversation_id""").df()
    scores, run = fit_experience(
        frame[["conversation_id", "response_hours", "sentiment", "satisfaction_rating"]],
        version=version, seed=int(settings.get("random_seed", 42)))
    if len(settings_frame):
        record_run(connection, run, cutoff_date=_as_date(settings.get("cutoff_date")),
                   horizon_days=settings.get("horizon_days"))
    scores["model_version"] = version
    return frame.merge(scores, on="conversation_id", how="inner")
