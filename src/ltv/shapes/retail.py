"""Shop B, `retail`: a UK gift wholesaler/retailer exported as invoices (2010-12 .. 2011-12).

Big baskets (about 18 lines per order, a few with hundreds), quantities in trade packs (median 6,
p99 ~128) with a handful of huge wholesale lines (80,995 of one item), cheap items (median 1.95),
a few free gifts at price 0, and about one order in six cancelled. Ids look like the real export:
numeric customer ids from 12346, invoice numbers from 536365 that grow with time ('C' in front of a
cancelled one), stock codes such as '85123A'. Timestamps are text with the shop's UTC offset
('2011-06-01T10:15:00+01:00' in British summer time, '+00:00' otherwise). No events, reviews or
support conversations; users have no country, items no brand and no description.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ltv.shapes.common import (
    SECONDS_PER_DAY,
    SECONDS_PER_HOUR,
    Tables,
    choose_positions,
    counts_with_one_share,
    deterministic_count,
    format_ids,
    heavy_tail_counts,
    offset_text,
    owners,
    pick,
    popularity,
    prices_from_percentiles,
    random_generator,
    sample_distinct,
    seconds,
    signed_up_before,
    uniform_seconds,
)

NAME = "retail"
DESCRIPTION = ("shop B: gift retailer 2010-12..2011-12, ~18 lines per order, trade-pack and huge wholesale "
               "quantities, cheap items, 16% cancelled, text timestamps with UTC offsets, no events/reviews/support")
SHAPE_INDEX = 2

START = seconds("2010-12-01")
END = seconds("2011-12-10")  # exclusive
N_DAYS = (END - START) // SECONDS_PER_DAY
OPENING_HOUR, OPENING_HOURS = 8, 10  # orders between 08:00 and 18:00 UTC
SUMMER_TIME = (seconds("2011-03-27T01:00:00"), seconds("2011-10-30T01:00:00"))  # UTC; +01:00 in between
MAX_SIGNUP_LEAD_DAYS = 60

ITEMS_PER_USER = 0.84
MIN_ITEMS = 20
TOP_ITEM_SHARE = 0.10  # of lines, held by the top 1% of items
ONE_ORDER_SHARE = 0.30
MEAN_ORDERS = 5.1
ORDERS_SIGMA = 1.3
MAX_ORDERS = 250
MEAN_LINES = 18.0
LINES_SIGMA = 1.0
MAX_LINES = 600
CANCELLED_SHARE = 0.16
RETURNED_SHARE = 0.01
PRICE_PERCENTILES = (0.55, 1.95, 6.75)
ZERO_PRICE_SHARE = 0.0002
QUANTITY_MEDIAN, QUANTITY_SIGMA = 6.0, 1.32  # lognormal: p99 ~ 128
PACK_SNAP_SHARE = 0.75  # most lines are ordered in trade-pack sizes
PACK_SIZES = np.array([1, 2, 3, 4, 6, 8, 10, 12, 16, 20, 24, 25, 32, 36, 48, 50, 60, 72, 96, 100, 120, 144,
                       192, 200, 240, 288, 300, 384, 400, 480, 500, 576, 600, 720, 864, 1000, 1200, 1440, 2000])
HUGE_QUANTITIES = (80_995, 74_215, 12_540, 4_800, 4_300)  # one more per 1,000 users
FIRST_CUSTOMER_ID = 12_346
FIRST_INVOICE = 536_365
FIRST_STOCK_CODE = 10_002
STOCK_CODE_SUFFIX_SHARE = 0.15

CATEGORY_NOUNS = {
    "home decor": ("T-LIGHT HOLDER", "PHOTO FRAME", "CUSHION COVER", "WALL CLOCK", "DOORSTOP", "LANTERN"),
    "kitchen": ("LUNCH BAG", "TEA TOWEL", "CAKE TIN", "MUG", "JAM JAR SET", "CAKE STAND", "APRON"),
    "party": ("PAPER CHAIN KIT", "BUNTING", "PARTY BAG", "NAPKINS", "CAKE CASES", "PAPER PLATES"),
    "stationery": ("NOTEBOOK", "GIFT WRAP", "GREETING CARD", "PENCIL SET", "STICKER SHEET", "ENVELOPES"),
    "bags": ("JUMBO BAG", "SHOPPER BAG", "CHARLOTTE BAG", "PURSE", "WASHBAG"),
    "christmas": ("CHRISTMAS DECORATION", "ADVENT CALENDAR", "STAR GARLAND", "BAUBLE", "STOCKING"),
    "garden": ("PLANT POT", "WATERING CAN", "BIRD HOUSE", "GARDEN MARKER", "PARASOL"),
    "toys": ("SPACEBOY TIN", "DOLLY GIRL SET", "JIGSAW", "SKIPPING ROPE", "TEDDY", "PLAYHOUSE"),
}
CATEGORY_SHARE = (0.22, 0.2, 0.12, 0.12, 0.1, 0.1, 0.07, 0.07)
PATTERNS = ("RETROSPOT", "VINTAGE", "REGENCY", "SPOTTY", "HEART", "FLORAL", "STRIPED", "ENAMEL", "WOODEN",
            "GLASS", "ANTIQUE", "PAISLEY", "SKULL", "DOILY", "POLKADOT", "BIRD", "STAR", "LOVE")
COLOURS = ("WHITE", "RED", "PINK", "BLUE", "GREEN", "IVORY", "BLACK", "CREAM", "GOLD", "SILVER", "")

STREAM_ITEMS, STREAM_USERS, STREAM_ORDERS, STREAM_LINES, STREAM_POPULARITY = 1, 2, 3, 4, 5


def build(n_users: int, seed: int) -> Tables:
    n_items = max(MIN_ITEMS, int(round(ITEMS_PER_USER * n_users)))
    items, item_price = build_items(n_items, seed)
    weights = popularity(random_generator(seed, SHAPE_INDEX, STREAM_POPULARITY), n_items, 0.01, TOP_ITEM_SHARE)
    users, user, ordered_at = build_users(n_users, seed)
    orders = build_orders(user, ordered_at, seed)
    max_lines = min(MAX_LINES, max(1, n_items // 2))
    order_items = build_lines(orders, items["item_id"], weights, item_price, max_lines, n_users, seed)
    return {"users": users, "items": items, "orders": orders, "order_items": order_items}


def build_items(n_items: int, seed: int) -> tuple[pa.Table, np.ndarray]:
    rng = random_generator(seed, SHAPE_INDEX, STREAM_ITEMS)
    category_names = tuple(CATEGORY_NOUNS)
    category = rng.choice(len(category_names), size=n_items, p=CATEGORY_SHARE)
    noun = np.empty(n_items, dtype=object)
    for index, name in enumerate(category_names):
        rows = np.flatnonzero(category == index)
        noun[rows] = pick(rng, CATEGORY_NOUNS[name], len(rows))
    colour = pick(rng, COLOURS, n_items)
    title = np.where(colour == "", "", colour + " ") + pick(rng, PATTERNS, n_items) + " " + noun
    suffix = np.where(rng.random(n_items) < STOCK_CODE_SUFFIX_SHARE, pick(rng, ("A", "B", "C", "D", "E", "F"), n_items), "")
    stock_code = pc.binary_join_element_wise(format_ids(FIRST_STOCK_CODE + np.arange(n_items)),
                                             pa.array(suffix, type=pa.string()), "")
    price = prices_from_percentiles(rng, *PRICE_PERCENTILES, n_items)
    items = pa.table({
        "item_id": stock_code,
        "title": pa.array(title, type=pa.string()),
        "category": pa.array(np.asarray(category_names, dtype=object)[category], type=pa.string()),
        "price": pa.array(price),
    })
    return items, price


def business_time(rng: np.random.Generator, day: np.ndarray) -> np.ndarray:
    opening = START + day * SECONDS_PER_DAY + OPENING_HOUR * SECONDS_PER_HOUR
    return opening + uniform_seconds(rng, 0, OPENING_HOURS * SECONDS_PER_HOUR, len(day))


def uk_offset(utc_seconds: np.ndarray) -> np.ndarray:
    summer = (utc_seconds >= SUMMER_TIME[0]) & (utc_seconds < SUMMER_TIME[1])
    return np.where(summer, SECONDS_PER_HOUR, 0)


def build_users(n_users: int, seed: int) -> tuple[pa.Table, np.ndarray, np.ndarray]:
    """Users and their orders' (user, time), grouped by user."""
    rng = random_generator(seed, SHAPE_INDEX, STREAM_USERS)
    counts = counts_with_one_share(rng, n_users, ONE_ORDER_SHARE, MEAN_ORDERS, ORDERS_SIGMA, MAX_ORDERS)
    user = owners(counts)
    first_day = rng.integers(0, N_DAYS, n_users)
    is_first = np.r_[True, user[1:] != user[:-1]]
    later_day = first_day[user] + np.floor(rng.random(len(user)) * (N_DAYS - first_day[user])).astype(np.int64)
    ordered_at = business_time(rng, np.where(is_first, first_day[user], later_day))
    earliest = np.minimum.reduceat(ordered_at, np.cumsum(counts) - counts)
    signed_up = signed_up_before(rng, earliest, MAX_SIGNUP_LEAD_DAYS, START)
    users = pa.table({
        "user_id": format_ids(FIRST_CUSTOMER_ID + np.arange(n_users)),
        "signed_up_at": offset_text(signed_up, uk_offset(signed_up)),
    })
    return users, user, ordered_at


def build_orders(user: np.ndarray, ordered_at: np.ndarray, seed: int) -> pa.Table:
    """Invoices numbered in time order; a cancelled invoice's number starts with 'C'."""
    rng = random_generator(seed, SHAPE_INDEX, STREAM_ORDERS)
    row_order = np.argsort(ordered_at, kind="stable")
    user, ordered_at = user[row_order], ordered_at[row_order]
    draw = rng.random(len(user))
    status = np.where(draw < CANCELLED_SHARE, "cancelled",
                      np.where(draw < CANCELLED_SHARE + RETURNED_SHARE, "returned", "completed")).astype(object)
    number = format_ids(FIRST_INVOICE + np.arange(len(user)))
    cancelled = pa.array(status == "cancelled")
    order_id = pc.if_else(cancelled, pc.binary_join_element_wise("C", number, ""), number)
    return pa.table({
        "order_id": order_id,
        "user_id": format_ids(FIRST_CUSTOMER_ID + user),
        "ordered_at": offset_text(ordered_at, uk_offset(ordered_at)),
        "status": pa.array(status, type=pa.string()),
    })


def quantities(rng: np.random.Generator, size: int) -> np.ndarray:
    """Lognormal around the median, most lines snapped to the nearest trade-pack size (in log terms)."""
    raw = np.maximum(QUANTITY_MEDIAN * np.exp(QUANTITY_SIGMA * rng.standard_normal(size)), 1.0)
    log_packs = np.log(PACK_SIZES)
    nearest = np.searchsorted((log_packs[1:] + log_packs[:-1]) / 2, np.log(raw))
    snapped = np.where(raw > PACK_SIZES[-1], raw, PACK_SIZES[nearest])
    return np.round(np.where(rng.random(size) < PACK_SNAP_SHARE, snapped, raw)).astype(np.int64)


def build_lines(orders: pa.Table, item_ids: pa.ChunkedArray, weights: np.ndarray, item_price: np.ndarray,
                max_lines: int, n_users: int, seed: int) -> pa.Table:
    rng = random_generator(seed, SHAPE_INDEX, STREAM_LINES)
    n_orders = orders.num_rows
    counts = heavy_tail_counts(rng, n_orders, 1, MEAN_LINES, LINES_SIGMA, max_lines)
    order, item = sample_distinct(rng, counts, weights)
    quantity = quantities(rng, len(order))
    unit_price = item_price[item].copy()
    n_zero = deterministic_count(ZERO_PRICE_SHARE, len(order), minimum=1)
    unit_price[choose_positions(rng, len(order), n_zero)] = 0.0

    # A few huge wholesale lines, on completed orders.
    n_huge = min(len(HUGE_QUANTITIES), n_users // 1000)
    completed_lines = np.flatnonzero(pc.equal(orders["status"], "completed").to_numpy(zero_copy_only=False)[order])
    if n_huge and len(completed_lines) >= n_huge:
        quantity[rng.choice(completed_lines, size=n_huge, replace=False)] = HUGE_QUANTITIES[:n_huge]
    return pa.table({
        "order_id": orders["order_id"].take(pa.array(order)),
        "item_id": item_ids.take(pa.array(item)),
        "quantity": pa.array(quantity),
        "unit_price": pa.array(unit_price),
    })
