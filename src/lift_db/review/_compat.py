"""The production-version gate: SQL that production's PostgreSQL cannot run fails `make lint`.

Production runs the major version of `supabase/config.toml` (`[db] major_version`, 17); the local
stack runs 18. SQL that only 18 accepts passes every local test and then fails at
`supabase db push`. This gate reads every migration, pgTAP file and seed file and refuses:

- a statement that does not parse with production's grammar (pglast's libpg_query line of that
  major version), including the SQL inside function bodies and DO blocks;
- a call of a function that only the newer server has, or with an argument count only it
  accepts;
- a setting (SET, ALTER … SET, a function's SET clause, `set_config`/`current_setting` with a
  literal name), a `pg_catalog` relation or a type that only the newer server has.

The list of what is new comes from both servers' catalogs (`lift_db.review.compat_catalog`), not
from release notes. What the gate cannot see: a new overload with the same argument count as an old
one (e.g. `max(bytea)`), semantics that changed without a name changing, and names built at run
time (`execute format(…)`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pglast
from pglast import parser as pg_parser

from lift_db.errors import ConfigError, LiftDbError
from lift_db.local.project import Project
from lift_db.review.compat_catalog import load_additions

# Expressions of PL/pgSQL parse as the select list of a query (libpg_query's parse modes).
_STATEMENT_MODE = 0
_LEADING_COMMENTS = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/)*", re.DOTALL)
_ASSIGN_TARGET = re.compile(r"^\s*[\w.\"\[\]]+\s*(:=|=)\s*", re.DOTALL)


class CompatibilityError(LiftDbError):
    """SQL in the project uses what production's PostgreSQL version does not have."""


@dataclass(frozen=True)
class Finding:
    path: Path
    line: int
    message: str

    def render(self, root: Path) -> str:
        try:
            shown = self.path.relative_to(root)
        except ValueError:
            shown = self.path
        return f"{shown}:{self.line}: {self.message}"


@dataclass(frozen=True)
class Additions:
    """What the newer server has and production's lacks."""

    old_version: str
    new_version: str
    functions: frozenset[str]
    # name -> argument counts production accepts, as (fewest, most or -1 for variadic)
    old_arities: dict[str, list[tuple[int, int]]]
    settings: frozenset[str]
    relations: frozenset[str]
    types: frozenset[str]

    @property
    def old_major(self) -> str:
        return self.old_version.split(".")[0]

    @classmethod
    def load(cls, data: dict[str, object] | None = None) -> Additions:
        raw = data if data is not None else load_additions()
        arities = raw["function_arities"]
        if not isinstance(arities, dict):
            raise TypeError("function_arities must be an object")
        return cls(
            old_version=str(raw["old_version"]),
            new_version=str(raw["new_version"]),
            functions=frozenset(_strings(raw["functions"])),
            old_arities={
                name: [(int(low), int(high)) for low, high in entry["arities_in_old"]]
                for name, entry in arities.items()
            },
            settings=frozenset(_strings(raw["settings"])),
            relations=frozenset(_strings(raw["relations"])),
            types=frozenset(_strings(raw["types"])),
        )


def _strings(value: object) -> list[str]:
    if isinstance(value, dict):
        return [str(k) for k in value]
    if isinstance(value, list):
        return [str(v) for v in value]
    raise TypeError(f"expected a list or an object, not {type(value).__name__}")


def production_major(project: Project) -> int:
    db = project.config().get("db", {})
    major = db.get("major_version") if isinstance(db, dict) else None
    if not isinstance(major, int):
        raise ConfigError(f"[db] major_version in {project.config_file} must be a number")
    return major


def checked_files(project: Project) -> list[Path]:
    """Every file `supabase db push`, `db reset` or `test db` sends to the server."""
    files = sorted(project.migrations_dir.glob("*.sql"))
    files += sorted(p for p in project.tests_dir.rglob("*") if p.suffix in (".sql", ".pg"))
    files += project.seed_files()
    return files


def check_project(project: Project) -> tuple[list[Path], list[Finding]]:
    major = production_major(project)
    grammar = pglast.get_postgresql_version()[0]
    if grammar != major:
        raise CompatibilityError(
            f"the installed pglast parses PostgreSQL {grammar}'s grammar; production runs "
            f"{major} ([db] major_version of {project.config_file.name})",
            "pin the pglast release line of that version in pyproject.toml (7.x parses 17)",
        )
    additions = Additions.load()
    if not additions.old_version.startswith(f"{major}."):
        raise CompatibilityError(
            f"src/lift_db/review/pg_additions.json compares {additions.old_version}, "
            f"not production's {major}",
            "regenerate it with `make compat-list` against that version's binaries",
        )
    files = checked_files(project)
    findings = [f for path in files for f in check_file(path, additions)]
    return files, findings


def check_file(path: Path, additions: Additions) -> list[Finding]:
    return check_sql(path.read_text(encoding="utf-8"), path, additions)


def check_sql(text: str, path: Path, additions: Additions) -> list[Finding]:
    """Findings for one file's text, statement by statement, so one error hides no other."""
    findings: list[Finding] = []
    try:
        # The parser knows where a statement ends (`begin atomic … end` holds semicolons).
        pieces = pg_parser.split(text, with_parser=True, only_slices=True)
    except pg_parser.ParseError:
        # Some statement does not parse: split by tokens, so the others are still checked.
        pieces = pg_parser.split(text, with_parser=False, only_slices=True)
    for piece in pieces:
        if not isinstance(piece, slice):
            continue
        statement = text[piece]
        lead = _LEADING_COMMENTS.match(statement)
        line = text.count("\n", 0, piece.start + (lead.end() if lead else 0)) + 1
        try:
            tree = json.loads(pg_parser.parse_sql_json(statement))
        except pg_parser.ParseError as exc:
            message = exc.args[0]
            offset = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], int) else 0
            at = text.count("\n", 0, piece.start + max(offset - 1, 0)) + 1
            findings.append(Finding(path, at, f"does not parse with PostgreSQL "
                                    f"{additions.old_major}'s grammar: {message}"))  # fmt: skip
            continue
        for entry in tree.get("stmts", []):
            for message in _check_statement(entry["stmt"], statement, additions):
                findings.append(Finding(path, line, message))
    return findings


def _check_statement(stmt: object, text: str, additions: Additions) -> Iterator[str]:
    yield from _check_node(stmt, additions)
    for body, language in _bodies(stmt, text):
        yield from _check_body(body, language, additions)


def _check_node(node: object, additions: Additions) -> Iterator[str]:
    """Walk a parse tree (libpg_query's JSON form) for names only the newer server has."""
    if isinstance(node, list):
        for item in node:
            yield from _check_node(item, additions)
        return
    if not isinstance(node, dict):
        return
    for kind, value in node.items():
        if kind == "FuncCall" and isinstance(value, dict):
            yield from _check_call(value, additions)
        elif kind == "VariableSetStmt" and isinstance(value, dict):
            name = value.get("name")
            if isinstance(name, str) and name in additions.settings:
                yield _new_setting(name, additions)
        elif kind == "RangeVar" and isinstance(value, dict):
            schema = value.get("schemaname")
            name = value.get("relname")
            if schema in (None, "pg_catalog") and name in additions.relations:
                yield f"relation pg_catalog.{name} is new in PostgreSQL {additions.new_version}"
        elif kind == "TypeName" and isinstance(value, dict):
            names = _names(value.get("names"))
            if names and names[-1] in additions.types and names[0] in ("pg_catalog", names[-1]):
                yield f"type {names[-1]} is new in PostgreSQL {additions.new_version}"
        yield from _check_node(value, additions)


def _check_call(call: dict[str, object], additions: Additions) -> Iterator[str]:
    names = _names(call.get("funcname"))
    if not names or (len(names) > 1 and names[0] != "pg_catalog"):
        return
    name = names[-1]
    args = call.get("args")
    count = len(args) if isinstance(args, list) else 0
    if name in additions.functions:
        yield f"function {name}() is new in PostgreSQL {additions.new_version}"
    elif name in additions.old_arities and not any(
        low <= count and (high == -1 or count <= high) for low, high in additions.old_arities[name]
    ):
        yield (
            f"{name}() with {count} argument(s) is new in PostgreSQL {additions.new_version}; "
            f"{additions.old_version} accepts {_describe(additions.old_arities[name])}"
        )
    if name in ("set_config", "current_setting") and isinstance(args, list) and args:
        setting = _string_constant(args[0])
        if setting is not None and setting in additions.settings:
            yield _new_setting(setting, additions)


def _new_setting(name: str, additions: Additions) -> str:
    return f"setting {name} is new in PostgreSQL {additions.new_version}"


def _describe(arities: list[tuple[int, int]]) -> str:
    parts = sorted({str(low) if low == high else f"{low}+" if high == -1 else f"{low}-{high}"
                    for low, high in arities})  # fmt: skip
    return " or ".join(parts) + " argument(s)"


def _names(value: object) -> list[str]:
    if not isinstance(value, list):
        return []
    out = []
    for item in value:
        if isinstance(item, dict) and isinstance(item.get("String"), dict):
            out.append(str(item["String"].get("sval", "")))
    return out


def _string_constant(node: object) -> str | None:
    if isinstance(node, dict):
        const = node.get("A_Const")
        if isinstance(const, dict) and isinstance(const.get("sval"), dict):
            return str(const["sval"].get("sval", ""))
    return None


def _bodies(stmt: object, text: str) -> Iterator[tuple[str, str]]:
    """Function bodies and DO blocks held as strings: (the code, its language)."""
    if not isinstance(stmt, dict):
        return
    if "CreateFunctionStmt" in stmt:
        options = stmt["CreateFunctionStmt"].get("options", [])
        language = _option(options, "language") or "sql"
        body = _option_list(options, "as")
        if body and language == "plpgsql":
            yield text, "plpgsql-function"
        elif body and language == "sql":
            yield body[0], "sql"
    elif "DoStmt" in stmt:
        args = stmt["DoStmt"].get("args", [])
        language = _option(args, "language") or "plpgsql"
        code = _option(args, "as")
        if code is not None and language == "plpgsql":
            yield code, "plpgsql-do"


def _option(options: object, name: str) -> str | None:
    values = _option_list(options, name)
    return values[0] if values else None


def _option_list(options: object, name: str) -> list[str]:
    if not isinstance(options, list):
        return []
    for item in options:
        elem = item.get("DefElem") if isinstance(item, dict) else None
        if isinstance(elem, dict) and elem.get("defname") == name:
            arg = elem.get("arg")
            if isinstance(arg, dict) and isinstance(arg.get("String"), dict):
                return [str(arg["String"].get("sval", ""))]
            if isinstance(arg, dict) and isinstance(arg.get("List"), dict):
                return _names(arg["List"].get("items"))
    return []


def _check_body(body: str, language: str, additions: Additions) -> Iterator[str]:
    grammar = additions.old_major
    if language == "sql":
        try:
            tree = json.loads(pg_parser.parse_sql_json(body))
        except pg_parser.ParseError as exc:
            yield f"function body does not parse with PostgreSQL {grammar}'s grammar: {exc}"
            return
        for entry in tree.get("stmts", []):
            yield from _check_node(entry["stmt"], additions)
        return
    source = body
    if language == "plpgsql-do":
        tag = "$lift_db_do$"
        source = (
            f"create function pg_temp.do_block() returns void language plpgsql as {tag}{body}{tag}"
        )
    try:
        functions = pglast.parse_plpgsql(source)
    except pg_parser.ParseError as exc:
        yield f"PL/pgSQL does not parse with PostgreSQL {grammar}'s grammar: {exc}"
        return
    for query, mode in _plpgsql_queries(functions):
        yield from _check_embedded(query, mode, additions)


def _plpgsql_queries(node: object) -> Iterator[tuple[str, int]]:
    if isinstance(node, list):
        for item in node:
            yield from _plpgsql_queries(item)
    elif isinstance(node, dict):
        expr = node.get("PLpgSQL_expr")
        if isinstance(expr, dict) and isinstance(expr.get("query"), str):
            yield expr["query"], int(expr.get("parseMode", _STATEMENT_MODE))
        for value in node.values():
            yield from _plpgsql_queries(value)


def _check_embedded(query: str, mode: int, additions: Additions) -> Iterator[str]:
    if mode == _STATEMENT_MODE:
        candidates = [query]
    else:
        # An expression, or an assignment `target := expression`.
        candidates = [f"select {query}", f"select {_ASSIGN_TARGET.sub('', query, count=1)}"]
    for candidate in candidates:
        try:
            tree = json.loads(pg_parser.parse_sql_json(candidate))
        except pg_parser.ParseError:
            continue
        for entry in tree.get("stmts", []):
            yield from _check_node(entry["stmt"], additions)
        return
    yield (
        f"PL/pgSQL statement does not parse with PostgreSQL {additions.old_major}'s grammar: "
        f"{query.strip()[:80]}"
    )
