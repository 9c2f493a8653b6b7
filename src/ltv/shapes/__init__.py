"""Real-shaped synthetic shops: `ltv generate --shape NAME`.

The demo generator writes every table and column. Real exports do not: some have one item, some
only ratings, some one order per customer, some no countries or brands, text timestamps with UTC
offsets, huge wholesale quantities or free lines. Each shape here imitates one of the profiles in
REAL-SHOPS.md, scaled to the number of users, and is valid under the input contract with its
optional tables and columns: every row should be accepted. Beside the files, `shape.json` records
the shape and exactly which files and columns were written (and which were left out).

The same (shape, n_users, seed) always gives the same data.
"""

from __future__ import annotations

from pathlib import Path

from ltv.shapes import fashion, multilingual, orders_only, ratings, retail
from ltv.shapes.common import FILE_FORMATS, write_shop

_MODULES = {module.NAME: module for module in (orders_only, retail, ratings, fashion, multilingual)}
SHAPES: dict[str, str] = {name: module.DESCRIPTION for name, module in _MODULES.items()}

__all__ = ["SHAPES", "generate_shaped_shop"]


def generate_shaped_shop(shape: str, n_users: int, out_dir: str | Path, seed: int = 42,
                         file_format: str = "parquet") -> dict[str, int]:
    """Write the shop of the named shape to `out_dir` (`<table>.<format>` plus `shape.json`) and return
    the rows written per table file written. Files of contract tables this shape leaves out, and a
    `defects.json`, left in `out_dir` by an earlier run are removed."""
    if shape not in _MODULES:
        raise ValueError(f"unknown shape {shape!r}; choose one of {', '.join(SHAPES)}")
    if n_users < 1:
        raise ValueError("n_users must be at least 1")
    if file_format not in FILE_FORMATS:
        raise ValueError(f"file_format must be 'parquet' or 'csv', not {file_format!r}")
    module = _MODULES[shape]
    tables = module.build(n_users, seed)
    return write_shop(tables, out_dir, file_format, shape, module.DESCRIPTION, n_users, seed)
