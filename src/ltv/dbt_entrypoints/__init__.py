"""What the dbt Python models call: one function per model family.

Each function takes the relations the model read with dbt.ref(), reads its settings from the
one-row int_model_settings frame, calls the plain functions that hold the logic, records the fit in
the run registry and returns the table dbt writes. Keeping this glue here, and not in the model
files, is what lets the model files stay three lines long and the logic be unit-tested. One module
per model family: value_models, recommendation_models (and recommendation_offline, the models
that measure recommenders), text_models; common holds what they share. text_engines runs the text
models on DuckDB (text_models) or Spark (ltv.engines.spark_text), by the model's session, and
recommendation_engines the behaviour recommenders (ltv.engines.spark_recommendations), and value_engines
the user-value models (value_models, ltv.engines.spark_user_value).
"""

# OMP_WAIT_POLICY is set by the package ltv itself (ltv/__init__.py), imported before this module.
from threadpoolctl import threadpool_limits

from ltv.dbt_entrypoints.common import model_settings, reuse_allowed
from ltv.dbt_entrypoints.recommendation_engines import (
    content_similarity,
    item_similarity,
    item_similarity_v3,
    recommendation_evaluation,
    recommendation_tuning,
    user_recommendations,
)
from ltv.dbt_entrypoints.text_engines import (
    conversation_experience,
    sentiment_evaluation_runs,
    text_sentiment,
    texts_masked,
)
from ltv.dbt_entrypoints.value_engines import user_value

# One BLAS thread for the whole dbt process, set once and never restored. dbt runs Python models in
# threads of one process, and BLAS's thread count is process-wide: a model that limits it for a while
# (the BG/NBD and boosting fits do) changed the threads of a ridge or least-squares fit running beside
# it, and with them the order of its floating-point sums, so two builds on the same data differed in
# the last bits. With one thread throughout, every fit sums in one order; on two cores the models
# running side by side keep both busy anyway.
threadpool_limits(limits=1, user_api="blas")

__all__ = [
    "content_similarity", "conversation_experience", "item_similarity", "item_similarity_v3", "model_settings",
    "recommendation_evaluation", "recommendation_tuning", "reuse_allowed", "sentiment_evaluation_runs", "text_sentiment",
    "texts_masked", "user_recommendations", "user_value",
]
