"""`ltv analyses`: the queries in analyses/ as plain SQL for the served file, ready to paste into a
BI tool's SQL editor.

analyses/*.sql read the marts through `{{ ref() }}`, which only dbt understands. Here each ref
becomes the public relation's name in the served file (`ref('m')` → `m`, `ref('m', v=2)` → `m_v2`),
and a ref to anything the served file does not hold (an internal model) is refused: the served file
holds only the public marts. Every rendered query is bound against the served file (DuckDB's
EXPLAIN: tables, columns and types resolve, nothing is computed) before it is written, so a file
that is written runs. `ltv publish` writes them beside the served file after every green build.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

HEADER = ("-- {source}, rendered by `ltv analyses` for the served warehouse: plain SQL over its public\n"
          "-- tables, to paste into a BI tool connected to it.\n")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ltv.cli import path_text

    parser.add_argument("--served", type=path_text, default=None,
                        help="the served warehouse file the queries are for and are checked against "
                             "(default: $LTV_DUCKDB_PATH or warehouse/ltv.duckdb, from the project folder)")
    parser.add_argument("--out", type=path_text, default=None,
                        help="where the .sql files go (default: an analyses folder beside the served file)")
    parser.add_argument("--project-dir", type=path_text, default=None,
                        help="the ltv dbt project whose analyses/ are rendered "
                             "(default: the nearest folder upward from here with a dbt_project.yml)")


def run(args: argparse.Namespace) -> int:
    from ltv.cli import find_project_dir
    from ltv.publish import served_path_for

    project_dir = find_project_dir(Path(args.project_dir or "."), search_upward=args.project_dir is None)
    served_path = served_path_for(args.served, project_dir)
    if not served_path.is_file():
        raise ValueError(f"{served_path} does not exist; run ltv publish first (or pass --served)")
    out_dir = Path(args.out).resolve() if args.out else served_path.parent / "analyses"
    written, failures = write_analyses(project_dir, served_path, out_dir)
    for path in written:
        print(f"ltv analyses: {path}")
    for failure in failures:
        print(f"ltv analyses: {failure}", file=sys.stderr)
    return 1 if failures else 0


def relation_name(name: str, version: int | str | None = None) -> str:
    """The relation dbt creates for a model (version): `name`, or `name_v<version>`."""
    return name if version is None else f"{name}_v{version}"


def render_analysis(sql: str, served_relations: dict[str, str], source: str = "the analysis") -> str:
    """`sql` with every `{{ ref() }}` replaced by the served relation's name (schema-qualified outside
    `main`), from `served_relations` {relation: schema}; any other Jinja is an error."""
    import jinja2
    import jinja2.sandbox

    def ref(name: str, v: int | str | None = None, version: int | str | None = None) -> str:
        relation = relation_name(name, v if v is not None else version)
        if relation not in served_relations:
            raise ValueError(f"{source} reads {relation}, which the served file does not hold "
                             "(it holds only the public marts)")
        schema = served_relations[relation]
        return relation if schema == "main" else f"{schema}.{relation}"

    environment = jinja2.sandbox.SandboxedEnvironment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    try:
        return environment.from_string(sql).render(ref=ref)
    except jinja2.TemplateError as error:
        raise ValueError(f"{source} uses Jinja other than ref() ({error.message}); it cannot be rendered "
                         "for the served file") from None


def served_relations_of(connection) -> dict[str, str]:
    """{relation: schema} of the served file's tables and views."""
    rows = connection.execute("select table_name, table_schema from information_schema.tables "
                              "where table_schema not in ('information_schema', 'pg_catalog') "
                              "order by table_schema = 'main'").fetchall()
    return dict(rows)  # a name in main wins over the same name elsewhere (ordered last)


def rendered_analyses(project_dir: Path, connection) -> tuple[dict[str, str], list[str]]:
    """Every analyses/*.sql rendered for the served file and bound against it: ({file name: sql}, failures)."""
    import duckdb

    relations = served_relations_of(connection)
    rendered, failures = {}, []
    for path in sorted((project_dir / "analyses").glob("*.sql")):
        source = f"analyses/{path.name}"
        try:
            sql = render_analysis(path.read_text(), relations, source)
            connection.execute("explain " + sql.strip().rstrip(";")).fetchall()
        except ValueError as error:
            failures.append(str(error))
            continue
        except duckdb.Error as error:
            failures.append(f"{source} does not run against the served file: {str(error).splitlines()[0]}")
            continue
        rendered[path.name] = HEADER.format(source=source) + sql
    return rendered, failures


def write_analyses(project_dir: Path, served_path: Path, out_dir: Path) -> tuple[list[Path], list[str]]:
    """Write the rendered analyses that run to `out_dir` (replacing its .sql files); return them and the failures."""
    import duckdb

    connection = duckdb.connect(str(served_path), read_only=True)
    try:
        rendered, failures = rendered_analyses(project_dir, connection)
    finally:
        connection.close()
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob("*.sql"):
        # Only what an earlier run wrote (an analysis since removed); never a user's own file.
        if stale.name not in rendered and stale.read_text().startswith(HEADER.split("{source}")[0] + "analyses/"):
            stale.unlink()
    written = []
    for name, sql in rendered.items():
        target = out_dir / name
        temporary = target.with_name(f".{name}.{os.getpid()}")
        temporary.write_text(sql)
        os.replace(temporary, target)  # a BI user opening the file never sees half of it
        written.append(target)
    return written, failures
