"""Write the report page: the sections of ltv.report.page as one self-contained HTML file."""

from __future__ import annotations

import datetime as dt
import html
import os
from pathlib import Path

from ltv.report.page import Chart, Note, Section, Table, build_sections
from ltv.report.tables import read_report_tables

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #222; background: #fafafa; }
header { background: #1f3a5f; color: white; padding: 1rem 2rem; }
header a { color: #cfe0ff; margin-right: 1.2rem; text-decoration: none; }
main { max-width: 1100px; margin: 0 auto; padding: 0 2rem 3rem; }
section { background: white; border: 1px solid #e3e3e3; border-radius: 6px; padding: 1rem 1.5rem; margin-top: 1.5rem; }
figure.chart { margin: 1rem 0; }
figure.chart svg { max-width: 100%; height: auto; }
figcaption { color: #555; font-size: 0.9rem; }
p.note { background: #fff8e1; border-left: 4px solid #f0b400; padding: 0.5rem 0.8rem; }
div.table { overflow-x: auto; }
table.figures { border-collapse: collapse; font-size: 0.85rem; margin: 0.5rem 0; }
table.figures th, table.figures td { border-bottom: 1px solid #ddd; padding: 0.25rem 0.6rem; text-align: right; }
"""


def render_part(part) -> str:
    if isinstance(part, Chart):
        caption = f"<figcaption>{html.escape(part.caption)}</figcaption>" if part.caption else ""
        return (f'<figure class="chart" data-chart="{part.chart_id}"><h3>{html.escape(part.title)}</h3>'
                f"{part.svg}{caption}</figure>")
    if isinstance(part, Table):
        return f'<div class="table">{part.html}</div>'
    if isinstance(part, Note):
        return f'<p class="note">{html.escape(part.text)}</p>'
    raise TypeError(f"unknown report part {type(part).__name__}")


def render_section(section: Section) -> str:
    parts = "\n".join(render_part(part) for part in section.parts)
    return (f'<section id="{section.section_id}"><h2>{html.escape(section.title)}</h2>'
            f"<p>{html.escape(section.intro)}</p>\n{parts}</section>")


def render_page(sections: list[Section], source_name: str, written_at: dt.datetime) -> str:
    navigation = "".join(f'<a href="#{section.section_id}">{html.escape(section.title)}</a>' for section in sections)
    body = "\n".join(render_section(section) for section in sections)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>ltv report</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{STYLE}</style></head>
<body><header><h1>Customer value report</h1>
<p>From {html.escape(source_name)}, written {written_at:%Y-%m-%d %H:%M} UTC.</p><nav>{navigation}</nav></header>
<main>
{body}
</main></body></html>
"""


def write_report(warehouse_path: Path, out_path: Path) -> Path:
    """Read the public tables of `warehouse_path` and write the report to `out_path` (atomically)."""
    tables = read_report_tables(warehouse_path)
    page = render_page(build_sections(tables), warehouse_path.name, dt.datetime.now(dt.UTC))
    out_path.parent.mkdir(parents=True, exist_ok=True)
    partial_path = out_path.with_name(out_path.name + ".partial")
    partial_path.write_text(page, encoding="utf-8")
    os.replace(partial_path, out_path)  # a reader sees the old page or the new one, never half of one
    return out_path
