"""Shop E, `multilingual`: the fashion shop's orders, with reviews and support in Chinese, Portuguese, English.

The orders, items and users are the `fashion` shape's (one order of one line per customer). Each
customer writes one review whose stars follow fashion's distribution and whose text, in Chinese
(45%), Portuguese (40%) or English (15%), follows the stars. A third of the customers also open one
support conversation, in their language, about that order; its satisfaction rating falls with the
message's tone and the response time, plus noise, and 20% of conversations are not rated. For
testing that sentiment works beyond English: TextBlob cannot read most of these texts.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ltv.shapes import fashion
from ltv.shapes.common import (
    SECONDS_PER_DAY,
    SECONDS_PER_HOUR,
    Tables,
    format_ids,
    id_width,
    random_generator,
    timestamp_array,
)
from ltv.shapes.multilingual_text import (
    TONE_PENALTY,
    TONE_SHARE,
    compose_reviews,
    compose_support_messages,
    draw_languages,
)

NAME = "multilingual"
DESCRIPTION = ("shop E: the fashion shop with reviews and support messages in Chinese, Portuguese and English "
               "(45/40/15%), stars and satisfaction that follow the texts' tone")
SHAPE_INDEX = 5

SUPPORT_SHARE = 1 / 3
SATISFACTION_MISSING_SHARE = 0.2
RESPONSE_HOURS_MEDIAN = 6.0
STREAM_LANGUAGES, STREAM_REVIEWS, STREAM_SUPPORT = 1, 2, 3


def build(n_users: int, seed: int) -> Tables:
    tables = fashion.build(n_users, seed)
    reviews = tables["reviews"]
    languages = draw_languages(random_generator(seed, SHAPE_INDEX, STREAM_LANGUAGES), reviews.num_rows)
    rating = reviews["rating"].to_numpy()
    comments = compose_reviews(random_generator(seed, SHAPE_INDEX, STREAM_REVIEWS), rating, languages)
    tables["reviews"] = reviews.set_column(reviews.schema.get_field_index("comment"), "comment",
                                           pa.array(comments, type=pa.string()))
    tables["support_conversations"] = build_support(tables, languages, seed)
    return tables


def build_support(tables: Tables, languages: np.ndarray, seed: int) -> pa.Table:
    """One conversation for a third of the customers, a few days after their order, in their language."""
    rng = random_generator(seed, SHAPE_INDEX, STREAM_SUPPORT)
    orders = tables["orders"]
    customers = np.flatnonzero(rng.random(orders.num_rows) < SUPPORT_SHARE)
    count = len(customers)
    ordered_at = orders["ordered_at"].cast(pa.timestamp("s")).cast(pa.int64()).to_numpy()[customers]
    opened_at = ordered_at + rng.integers(1, 10, size=count) * SECONDS_PER_DAY
    response_hours = rng.lognormal(np.log(RESPONSE_HOURS_MEDIAN), 1.0, size=count)
    tone = rng.choice(len(TONE_SHARE), size=count, p=TONE_SHARE)
    order_ids = np.asarray(orders["order_id"].to_pylist(), dtype=object)[customers]
    messages = compose_support_messages(rng, languages[customers], tone, order_ids)
    latent = 4.6 - TONE_PENALTY[tone] - 0.35 * np.log1p(response_hours) + rng.normal(0.0, 0.6, size=count)
    satisfaction = np.clip(np.rint(latent), 1, 5)
    satisfaction[rng.random(count) < SATISFACTION_MISSING_SHARE] = np.nan
    return pa.table({
        "conversation_id": format_ids(np.arange(1, count + 1), prefix="T", width=id_width(count, 6)),
        "user_id": orders["user_id"].take(pa.array(customers)),
        "opened_at": timestamp_array(opened_at),
        "first_response_at": timestamp_array(opened_at + np.rint(response_hours * SECONDS_PER_HOUR).astype(np.int64)),
        "message": pa.array(messages, type=pa.string()),
        "satisfaction_rating": pa.array(satisfaction, type=pa.int64(), from_pandas=True),
    })
