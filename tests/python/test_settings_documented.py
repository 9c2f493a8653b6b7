"""Every var the project declares is a documented setting and is checked before anything runs: a var
missing from README's settings table is one a user cannot find, and one missing from validate_vars would
reach the models unchecked (a bad value would fail deep inside a build instead of by its name)."""

from __future__ import annotations

import re

import yaml
from conftest import PROJECT_DIR


def _declared_vars() -> dict:
    return yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())["vars"]


def _settings_table() -> str:
    readme = (PROJECT_DIR / "README.md").read_text()
    section = readme[readme.index("## Settings (dbt vars)"):]
    return section[:section.index("\n## ", 1)]


def test_every_declared_var_has_a_row_in_the_readmes_settings_table():
    rows = [line for line in _settings_table().splitlines() if line.startswith("| `ltv_")]
    named = {name for row in rows for name in re.findall(r"`(ltv_[a-z0-9_*]+)`", row.split("|")[1])}
    prefixes = [name.removesuffix("*") for name in named if name.endswith("*")]
    undocumented = [name for name in _declared_vars() if name not in named
                    and not any(name.startswith(prefix) for prefix in prefixes)]
    assert undocumented == []
    assert {name for name in named if not name.endswith("*")} <= set(_declared_vars())  # no stale rows


def test_every_declared_var_is_checked_by_validate_vars():
    macros = (PROJECT_DIR / "macros" / "validate_vars.sql").read_text()
    assert [name for name in _declared_vars() if f"'{name}'" not in macros] == []
