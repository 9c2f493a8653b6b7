"""What the dbt Python models call: one function per model family.

Each function takes the frames the model read with dbt.ref() (already pandas), reads its settings
from the one-row int_model_settings frame, calls the plain functions that hold the logic, records
the fit in the run registry and returns the table dbt writes. Keeping this glue here, and not in
the model files, is what lets the model files stay three lines long and the logic be unit-tested.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from ltv.build_cache import FittedModelStore
from ltv.registry import record_run


def model_settings(settings_frame: pd.DataFrame) -> dict:
    """The single row of int_model_settings as a dict of plain Python values."""
    if len(settings_frame) != 1:
        raise ValueError(f"int_model_settings must have exactly one row, found {len(settings_frame)}")
    row = settings_frame.iloc[0].to_dict()
    # A shop with no accepted order has no cut-off: NaT/NaN become None, which every caller treats
    # as "not set" (NaT would pass an `is not None` check and fail later, e.g. in strftime).
    return {key: None if pd.isna(value) else (value.item() if hasattr(value, "item") else value)
            for key, value in row.items()}


def reuse_allowed(settings: dict) -> bool:
    """var ltv_reuse_unchanged_work (through int_model_settings); no settings row means no registry."""
    return bool(settings.get("reuse_unchanged_work", False))


def _metric_value(value) -> float:
    """A metric as a float column value; an undefined metric (None, e.g. no rows) is NaN."""
    return float("nan") if value is None else float(value)


def _as_date(value):
    return None if value is None or pd.isna(value) else pd.Timestamp(value).date()


def user_value(connection, features_at_cutoff, features_latest, settings_frame: pd.DataFrame,
               version: int) -> pd.DataFrame:
    """ml_user_value vN: fit on the cut-off features (or reuse the fit of the same training data),
    record the holdout metrics of a new fit, score everyone from the latest features.

    The features come as relations: whether the training data changed is decided in DuckDB from a
    fingerprint of exactly the columns the version reads, so a reused fit never loads them."""
    from ltv import build_cache
    from ltv import user_value as user_value_module
    from ltv.user_value import LABEL_COLUMN, REQUIRED_COLUMNS, fit_user_value, score_user_value

    settings = model_settings(settings_frame) if len(settings_frame) else {}
    fit_arguments = {
        "version": version,
        "horizon_days": int(settings.get("horizon_days", 180)),
        "holdout_share": float(settings.get("holdout_share", 0.2)),
        "seed": int(settings.get("random_seed", 42)),
        "min_labelled_users": int(settings.get("min_labelled_users", 50)),
    }
    training_columns = list(dict.fromkeys((*REQUIRED_COLUMNS[version], LABEL_COLUMN)))
    fingerprint = build_cache.combine(
        sorted(fit_arguments.items()), build_cache.relation_fingerprint(features_at_cutoff, training_columns),
        build_cache.code_fingerprint(user_value_module))
    fitted_models = FittedModelStore(connection, "user_value", version)
    fit = fitted_models.load(fingerprint) if reuse_allowed(settings) else None
    reused = fit is not None
    if fit is None:
        fit = fit_user_value(features_at_cutoff.project(", ".join(training_columns)).df(), **fit_arguments)
        if fit.state is not None:
            fitted_models.store(fingerprint, fit)
    # Only the columns the version reads: v1 needs four of the thirty-odd feature columns.
    predictions, run = score_user_value(fit, features_latest.project(", ".join(REQUIRED_COLUMNS[version])).df())
    # The registry logs fits: a reused fit was recorded by the build that made it.
    if len(settings_frame) and not reused:
        record_run(connection, run, cutoff_date=_as_date(settings["cutoff_date"]),
                   horizon_days=settings["horizon_days"])
    # scored_at is the date the features describe, not the wall clock, so two builds on the
    # same data give identical tables.
    scoring_date = settings.get("scoring_date")
    predictions["scored_at"] = pd.Timestamp(scoring_date) if scoring_date is not None else pd.NaT
    predictions["scored_at"] = predictions["scored_at"].astype("datetime64[us]")
    return predictions


# --------------------------------------------------------------------------------------------------
# Recommendations

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


def _reused_or_remembered(connection, this: str | None, settings: dict, fingerprint: str):
    """The model's last table if it was built from inputs with this fingerprint (and reuse is on);
    otherwise None, after noting the fingerprint of the table about to be built."""
    from ltv.build_cache import remember_output, reusable_output

    if reuse_allowed(settings):
        previous = reusable_output(connection, this, fingerprint)
        if previous is not None:
            return previous
    # Noted even with reuse off: the table is about to change, so the old fingerprint must go.
    remember_output(connection, this, fingerprint)
    return None


def content_similarity(connection, items, settings_frame: pd.DataFrame, this: str | None = None):
    """ml_item_content_similarities: attribute and text similarity, for new items and 'similar items'.
    It depends on the catalogue alone, so an unchanged catalogue reuses the last table."""
    from ltv import build_cache, similarity
    from ltv.similarity import content_similarities

    settings = model_settings(settings_frame) if len(settings_frame) else {}
    top_k = int(settings.get("similarity_top_k", 50))
    fingerprint = build_cache.combine(
        "content_similarity", top_k, build_cache.relation_fingerprint(items),
        build_cache.code_fingerprint(similarity, sys.modules[__name__]))
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


def user_recommendations(connection, interactions, similarities, users, settings_frame: pd.DataFrame):
    """ml_user_recommendations vN: top-N per user from behaviour similarity vN (the served version
    is picked afterwards, on the offline evaluation: fct_recommendation_versions).

    The relations' ids are coded in DuckDB (see _create_id_codes) and decoded in the relation
    returned: users are every customer and every interacting user, items every item that is
    interacted with or has similarity rows, so the result is what recommend_items gives on the ids."""
    from ltv.recommend import recommend_items

    settings = model_settings(settings_frame) if len(settings_frame) else {}
    prefix = "ltv_user_recommendations"
    connection.register(f"{prefix}_interactions", interactions)
    connection.register(f"{prefix}_similarities", similarities)
    connection.register(f"{prefix}_users", users)
    versions = connection.sql(f"select model_version from {prefix}_similarities limit 1").fetchall()
    version = int(versions[0][0]) if versions else max(SIMILARITY_METHODS)
    user_count = _create_id_codes(connection, f"{prefix}_user_codes", f"""
        select user_id as id from {prefix}_users
        union all select user_id from {prefix}_interactions where interaction_weight > 0""")
    _create_id_codes(connection, f"{prefix}_item_codes", f"""
        select item_id as id from {prefix}_interactions where interaction_weight > 0
        union all select item_id from {prefix}_similarities
        union all select similar_item_id from {prefix}_similarities""")
    coded_interactions = connection.sql(f"""
        select user_codes.code as user_id, item_codes.code as item_id, interactions.interaction_weight,
               interactions.purchases_total
        from {prefix}_interactions as interactions
        inner join {prefix}_user_codes as user_codes on interactions.user_id = user_codes.id
        inner join {prefix}_item_codes as item_codes on interactions.item_id = item_codes.id
        where interactions.interaction_weight > 0""").df()
    coded_similarities = connection.sql(f"""
        select items.code as item_id, similar_items.code as similar_item_id, similarities.similarity
        from {prefix}_similarities as similarities
        inner join {prefix}_item_codes as items on similarities.item_id = items.id
        inner join {prefix}_item_codes as similar_items on similarities.similar_item_id = similar_items.id""").df()
    owned = coded_interactions.loc[coded_interactions["purchases_total"] > 0, ["user_id", "item_id"]]
    recommendations = recommend_items(
        _weighted_interactions(coded_interactions, "interaction_weight"),
        coded_similarities,
        top_n=int(settings.get("recommendations_top_n", 10)),
        owned=owned,
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


def recommendation_evaluation(connection, interactions, items, settings_frame: pd.DataFrame,
                              content_similarities=None, this: str | None = None):
    """ml_recommendation_evaluation: train on interactions up to the cut-off, test on the items each
    user bought for the first time in the horizon after it; one row (and one registry run) per
    method. That split does not move while the cut-off stays, so the last table is reused when the
    rows it reads are unchanged."""
    from ltv import build_cache, ranking_metrics, recommend, similarity
    from ltv import metrics as metric_definitions
    from ltv.ranking_metrics import offline_evaluation

    settings = model_settings(settings_frame) if len(settings_frame) else {}
    # Only rows that train or test: a pair bought after the horizon changes nothing here.
    interactions = interactions.filter("interaction_weight_before_cutoff > 0 or purchases_after_cutoff > 0")
    fingerprint = build_cache.combine(
        "recommendation_evaluation", settings.get("similarity_top_k"), settings.get("cutoff_date"),
        settings.get("label_end_date"), build_cache.relation_fingerprint(interactions),
        build_cache.relation_fingerprint(items),
        None if content_similarities is None else build_cache.relation_fingerprint(content_similarities),
        build_cache.code_fingerprint(metric_definitions, ranking_metrics, recommend, similarity, sys.modules[__name__]))
    previous = _reused_or_remembered(connection, this, settings, fingerprint)
    if previous is not None:
        return previous
    # DuckDB hands rows over in no fixed order and the metrics are float averages: sorting first
    # makes two builds on the same data record bit-identical metrics.
    interactions = interactions.df().sort_values(["user_id", "item_id"], kind="stable", ignore_index=True)
    items = items.df().sort_values("item_id", kind="stable", ignore_index=True)
    train = _weighted_interactions(interactions, "interaction_weight_before_cutoff")
    # An item already bought before the cut-off is never recommended, so buying it again after the
    # cut-off cannot count as a hit or a miss.
    new_purchases = interactions.loc[
        (interactions["purchases_after_cutoff"] > 0) & (interactions["purchases_before_cutoff"] == 0),
        ["user_id", "item_id"],
    ]
    runs = offline_evaluation(
        train,
        new_purchases,
        items,
        top_k=int(settings.get("similarity_top_k", 50)),
        # The registry's metrics are defined @10 whatever list length the shop publishes.
        top_n=EVALUATION_LIST_LENGTH,
        content_similarity_table=None if content_similarities is None else content_similarities.df()[
            ["item_id", "similar_item_id", "similarity"]].sort_values(["item_id", "similar_item_id"], ignore_index=True),
    )
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


# --------------------------------------------------------------------------------------------------
# Text: masking, sentiment, experience

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
