"""Shop D, `fashion`: women's clothing reviews exported as a shop (2019-01 .. 2020-11).

Every customer bought exactly once (one order, one line) and reviewed what they bought, with a
written comment whose tone follows the stars; stars skew high (55% five). The export has no prices,
so every line carries one nominal price. A small catalogue (about one item per 20 customers) with a
strong head: the top 1% of items hold about a quarter of the purchases. Users have no country, items
no brand and no description. No events and no support conversations.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ltv.shapes.common import (
    SECONDS_PER_DAY,
    Tables,
    constant_text,
    format_ids,
    id_width,
    pick,
    popularity,
    random_generator,
    seconds,
    signed_up_before,
    timestamp_array,
    uniform_seconds,
    weighted_draws,
)
from ltv.shapes.fashion_text import CATEGORY_NOUNS, compose_comments

NAME = "fashion"
DESCRIPTION = ("shop D: clothing shop 2019-01..2020-11, exactly one order of one line and one written review "
               "per customer, stars skewed high, one price for all lines, no events or support")
SHAPE_INDEX = 4

START = seconds("2019-01-01")
END = seconds("2020-12-01")  # exclusive
ITEMS_PER_USER = 0.05
MIN_ITEMS = 20
TOP_ITEM_SHARE = 0.267
RATING_SHARE = (0.04, 0.07, 0.12, 0.22, 0.55)
PRICE = 1.0  # the export has no prices: one nominal price for every line
REVIEW_DELAY_DAYS = (3, 21)
MAX_SIGNUP_LEAD_DAYS = 90
CATEGORY_SHARE = np.array([0.27, 0.21, 0.13, 0.06, 0.06, 0.05, 0.05, 0.04, 0.03, 0.03, 0.02, 0.02, 0.01, 0.01,
                           0.005, 0.005])
ADJECTIVES = ("Relaxed", "Cropped", "Tiered", "Wrap", "Pleated", "Embroidered", "Striped", "Floral", "Ribbed",
              "Linen", "Velvet", "Smocked", "Classic", "Draped", "Printed", "Button-down")
COLOURS = ("black", "navy", "ivory", "rose", "olive", "rust", "sky", "grey", "mustard", "emerald")

STREAM_ITEMS, STREAM_USERS, STREAM_REVIEWS, STREAM_POPULARITY = 1, 2, 3, 4


def build(n_users: int, seed: int) -> Tables:
    n_items = max(MIN_ITEMS, int(round(ITEMS_PER_USER * n_users)))
    items, category = build_items(n_items, seed)
    weights = popularity(random_generator(seed, SHAPE_INDEX, STREAM_POPULARITY), n_items, 0.01, TOP_ITEM_SHARE)

    rng = random_generator(seed, SHAPE_INDEX, STREAM_USERS)
    item = weighted_draws(rng, weights, n_users)
    delay_low, delay_high = (days * SECONDS_PER_DAY for days in REVIEW_DELAY_DAYS)
    ordered_at = uniform_seconds(rng, START, END - delay_high, n_users)
    reviewed_at = ordered_at + uniform_seconds(rng, delay_low, delay_high, n_users)
    signed_up = signed_up_before(rng, ordered_at, MAX_SIGNUP_LEAD_DAYS, START)

    user_ids = format_ids(np.arange(1, n_users + 1), prefix="cust-", width=id_width(n_users, 6))
    users = pa.table({"user_id": user_ids, "signed_up_at": timestamp_array(signed_up)})
    order_ids = format_ids(np.arange(1, n_users + 1), prefix="ORD-", width=id_width(n_users, 7))
    orders = pa.table({
        "order_id": order_ids,
        "user_id": user_ids,
        "ordered_at": timestamp_array(ordered_at),
        "status": constant_text("completed", n_users),
    })
    item_ids = items["item_id"].take(pa.array(item))
    order_items = pa.table({
        "order_id": order_ids,
        "item_id": item_ids,
        "quantity": pa.array(np.ones(n_users, dtype=np.int64)),
        "unit_price": pa.array(np.full(n_users, PRICE)),
    })
    reviews = build_reviews(user_ids, item_ids, category[item], reviewed_at, seed)
    return {"users": users, "items": items, "orders": orders, "order_items": order_items, "reviews": reviews}


def build_items(n_items: int, seed: int) -> tuple[pa.Table, np.ndarray]:
    """Clothing ids are plain numbers with gaps, as in the real export; titles like 'Tiered rose dress'."""
    rng = random_generator(seed, SHAPE_INDEX, STREAM_ITEMS)
    names = tuple(CATEGORY_NOUNS)
    category = np.asarray(names, dtype=object)[rng.choice(len(names), size=n_items, p=CATEGORY_SHARE / CATEGORY_SHARE.sum())]
    noun = np.array([CATEGORY_NOUNS[name].removeprefix("pair of ") for name in category], dtype=object)
    title = pick(rng, ADJECTIVES, n_items) + " " + pick(rng, COLOURS, n_items) + " " + noun
    clothing_id = np.sort(rng.choice(int(n_items * 1.05) + 1, size=n_items, replace=False))
    items = pa.table({
        "item_id": format_ids(clothing_id),
        "title": pa.array(title, type=pa.string()),
        "category": pa.array(category, type=pa.string()),
        "price": pa.array(np.full(n_items, PRICE)),
    })
    return items, category


def build_reviews(user_ids: pa.Array, item_ids: pa.Array, category: np.ndarray, reviewed_at: np.ndarray,
                  seed: int) -> pa.Table:
    rng = random_generator(seed, SHAPE_INDEX, STREAM_REVIEWS)
    rating = 1 + rng.choice(len(RATING_SHARE), size=len(category), p=RATING_SHARE)
    return pa.table({
        "review_id": format_ids(np.arange(len(category))),
        "user_id": user_ids,
        "item_id": item_ids,
        "rating": pa.array(rating.astype(np.int64)),
        "comment": pa.array(compose_comments(rng, rating, category), type=pa.string()),
        "created_at": timestamp_array(reviewed_at),
    })
