"""Shop A, `orders-only`: a 1990s CD shop exported as orders only.

One item for everything, one line per order with quantity 1 and the order's amount as its price,
no events, reviews or support conversations. Every customer first buys in the first quarter of 1997
(a cohort) and repeat purchases thin out towards mid-1998. About half the customers never come back,
a few buy well over a hundred times. Ids are plain numbers written as text ('1', '2', ...), so users,
the item and orders share one number space, as in the real export.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ltv.shapes.common import (
    Tables,
    choose_positions,
    constant_text,
    counts_with_one_share,
    deterministic_count,
    format_ids,
    owners,
    pick,
    prices_from_percentiles,
    random_generator,
    seconds,
    signed_up_before,
    timestamp_array,
    uniform_seconds,
)

NAME = "orders-only"
DESCRIPTION = ("shop A: one item, orders only (no events, reviews or support), 1 line of quantity 1 per order, "
               "1997-01..1998-06, half the customers buy once")
SHAPE_INDEX = 1

START = seconds("1997-01-01")
COHORT_END = seconds("1997-04-01")  # every customer's first order falls in the first quarter
END = seconds("1998-07-01")  # exclusive
ONE_ORDER_SHARE = 0.51
MEAN_ORDERS = 2.9
ORDERS_SIGMA = 1.3
MAX_ORDERS = int(60 * MEAN_ORDERS)
REPEAT_DECAY = 1.6  # repeat order at first + (END - first) * u**REPEAT_DECAY: activity thins out over time
PRICE_PERCENTILES = (11.8, 26.7, 73.4)  # p10, median, p90 of the order amount
ZERO_PRICE_SHARE = 0.0012
MAX_SIGNUP_LEAD_DAYS = 14
COUNTRIES = ("US", "CA", "GB", "DE", "JP", "AU", "NL", "FR")
COUNTRY_SHARE = (0.86, 0.04, 0.03, 0.02, 0.02, 0.01, 0.01, 0.01)

STREAM_USERS, STREAM_ORDERS, STREAM_PRICES = 1, 2, 3


def build(n_users: int, seed: int) -> Tables:
    rng = random_generator(seed, SHAPE_INDEX, STREAM_USERS)
    first_order = uniform_seconds(rng, START, COHORT_END, n_users)
    signed_up = signed_up_before(rng, first_order, MAX_SIGNUP_LEAD_DAYS, START)
    users = pa.table({
        "user_id": format_ids(np.arange(1, n_users + 1)),
        "signed_up_at": timestamp_array(signed_up),
        "country": pa.array(pick(rng, COUNTRIES, n_users, p=COUNTRY_SHARE), type=pa.string()),
    })
    items = pa.table({
        "item_id": pa.array(["1"]),
        "title": pa.array(["Compact disc"]),
        "category": pa.array(["Music"]),
        "brand": pa.array(["House label"]),
    })
    orders, order_items = build_orders(n_users, first_order, seed)
    return {"users": users, "items": items, "orders": orders, "order_items": order_items}


def build_orders(n_users: int, first_order: np.ndarray, seed: int) -> tuple[pa.Table, pa.Table]:
    rng = random_generator(seed, SHAPE_INDEX, STREAM_ORDERS)
    counts = counts_with_one_share(rng, n_users, ONE_ORDER_SHARE, MEAN_ORDERS, ORDERS_SIGMA, MAX_ORDERS)
    user = owners(counts)
    first = first_order[user]
    is_first = np.r_[True, user[1:] != user[:-1]]
    later = first + ((END - 1 - first) * rng.random(len(user)) ** REPEAT_DECAY).astype(np.int64)
    ordered_at = np.where(is_first, first, later)

    # Order numbers grow with time, as an order system assigns them; rows are written in that order.
    row_order = np.argsort(ordered_at, kind="stable")
    user, ordered_at = user[row_order], ordered_at[row_order]
    order_ids = format_ids(np.arange(1, len(user) + 1))
    orders = pa.table({
        "order_id": order_ids,
        "user_id": format_ids(user + 1),
        "ordered_at": timestamp_array(ordered_at),
        "status": constant_text("completed", len(user)),
    })

    price_rng = random_generator(seed, SHAPE_INDEX, STREAM_PRICES)
    unit_price = prices_from_percentiles(price_rng, *PRICE_PERCENTILES, len(user))
    n_zero = deterministic_count(ZERO_PRICE_SHARE, len(user), minimum=1 if n_users >= 500 else 0)
    unit_price[choose_positions(price_rng, len(user), n_zero)] = 0.0
    order_items = pa.table({
        "order_id": order_ids,
        "item_id": constant_text("1", len(user)),
        "quantity": pa.array(np.ones(len(user), dtype=np.int64)),
        "unit_price": pa.array(unit_price),
    })
    return orders, order_items
