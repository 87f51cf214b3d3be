"""What a backup's SQL may say: the small grammar `lift-db dump` and pg_dump write, and no more.

A restore never hands a backup's SQL to psql (whose meta-commands, `\\!` and `\\connect` among
them, run on the client). Its members are read here statement by statement, streamed, and each
statement is checked against the forms `lift-db dump` writes before any of it runs:

- `auth-data.sql`: only `copy auth.users|auth.identities (<columns>) from stdin;` and their rows;
- `platform-attachments.sql`: only `create trigger … on <platform table> … execute function
  <app schema>.<function>()` and `alter publication <name> add table <app table>`;
- the SQL pg_restore makes of `app.pgdump`: pg_dump's session `SET`s, `set_config('search_path')`,
  `setval` of an app sequence, and CREATE/ALTER/COMMENT/GRANT/REVOKE/COPY/REFRESH of objects in
  the backup's own schemas, owned by the restoring role.

Anything else is refused, naming the member, the line and the statement: roles, databases,
extensions, event triggers, publications, `DO`, `CALL`, `SELECT` of anything else, `SET ROLE`,
transaction control, `COPY … TO`, `COPY … PROGRAM`, objects in other schemas, ownership given to
another role, a backslash outside a literal. Each statement is later sent to the server alone,
through the extended protocol, which refuses two statements in one: a `;` smuggled inside a
literal cannot start a second one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol, TypeVar

from lift_db.errors import LiftDbError

MAX_STATEMENT = 64 << 20
READ_LIMIT = 1 << 20
_TAG = re.compile(r"\$([A-Za-z_\u0080-\U0010ffff][\w\u0080-\U0010ffff]*)?\$")
_META = re.compile(r"^\\(restrict|unrestrict) [A-Za-z0-9]{1,128}\s*$")
# pg_dump's session settings (pg_backup_archiver.c); nothing that changes who runs the SQL.
SETTINGS = frozenset(
    {
        "statement_timeout",
        "lock_timeout",
        "idle_in_transaction_session_timeout",
        "transaction_timeout",
        "client_encoding",
        "standard_conforming_strings",
        "check_function_bodies",
        "xmloption",
        "client_min_messages",
        "row_security",
        "default_tablespace",
        "default_table_access_method",
        "default_toast_compression",
    }
)
NEVER_SCHEMAS = frozenset({"pg_catalog", "information_schema", "pg_toast"})


class RefusedError(LiftDbError):
    """A backup holds SQL that `lift-db dump` never writes; nothing of it ran."""


@dataclass(frozen=True)
class Statement:
    text: str
    line: int


@dataclass(frozen=True)
class CopyTarget:
    schema: str
    table: str
    columns: tuple[str, ...]


END_OF_DATA = object()


class LineSource(Protocol):
    def readline(self, size: int = -1, /) -> str: ...


# -- reading statements ------------------------------------------------------------------------


def read_script(stream: LineSource, where: str) -> Iterator[Statement | str | object]:
    """Statements, the rows after a `COPY … FROM stdin` (each a line, `str`) and END_OF_DATA
    after them. Lines of psql meta-commands are yielded as statements starting with `\\`."""
    scanner = _Scanner(where)
    lineno = 0
    in_copy = False
    at_line_start = True
    while True:
        line = stream.readline(READ_LIMIT)
        if not line:
            break
        if at_line_start:
            lineno += 1
        starts_line = at_line_start
        at_line_start = line.endswith("\n")
        if in_copy:
            if starts_line and line in ("\\.\n", "\\."):
                in_copy = False
                yield END_OF_DATA
            else:
                yield line
            continue
        if starts_line and scanner.blank() and line.lstrip().startswith("\\"):
            yield Statement(line.strip(), lineno)
            continue
        statements = list(scanner.feed(line, lineno))
        for k, statement in enumerate(statements):
            yield statement
            if _is_copy_from_stdin(statement.text):
                if k != len(statements) - 1 or not scanner.blank() or not at_line_start:
                    raise RefusedError(
                        f"{where} line {lineno}: text after a COPY statement on its line"
                    )
                in_copy = True
    if in_copy:
        raise RefusedError(f"{where}: the rows of a COPY never end (no \\. line)")
    if not scanner.blank():
        raise RefusedError(f"{where}: the last statement never ends (no ;)")


def _is_copy_from_stdin(text: str) -> bool:
    tokens = tokenize(text)
    while tokens and tokens[-1] == ("op", ";"):
        tokens.pop()
    return len(tokens) >= 3 and tokens[0] == ("word", "copy") and tokens[-1] == ("word", "stdin")


class _Scanner:
    """Cuts text into statements at `;` outside literals, comments, parentheses and
    `begin atomic … end`; refuses a backslash outside a literal."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.buf: list[str] = []
        self.size = 0
        self.start_line = 0
        self.mode = "normal"  # normal, quote, equote, dquote, dollar, block
        self.tag = ""
        self.depth = 0
        self.block_depth = 0
        self.atomic = False
        self.case_depth = 0
        self.prev_word = ""
        self.content = False

    def blank(self) -> bool:
        return not self.content and self.mode == "normal"

    def feed(self, line: str, lineno: int) -> Iterator[Statement]:
        i = 0
        n = len(line)
        cut = 0
        while i < n:
            ch = line[i]
            mode = self.mode
            if mode == "quote" or mode == "dquote":
                close = line.find("'" if mode == "quote" else '"', i)
                if close < 0:
                    i = n
                elif close + 1 < n and line[close + 1] == line[close]:
                    i = close + 2
                else:
                    self.mode = "normal"
                    i = close + 1
                continue
            if mode == "equote":
                if ch == "\\":
                    i += 2
                elif ch == "'":
                    if i + 1 < n and line[i + 1] == "'":
                        i += 2
                    else:
                        self.mode = "normal"
                        i += 1
                else:
                    i += 1
                continue
            if mode == "dollar":
                close = line.find(self.tag, i)
                if close < 0:
                    i = n
                else:
                    self.mode = "normal"
                    i = close + len(self.tag)
                continue
            if mode == "block":
                if line.startswith("/*", i):
                    self.block_depth += 1
                    i += 2
                elif line.startswith("*/", i):
                    self.block_depth -= 1
                    i += 2
                    if self.block_depth == 0:
                        self.mode = "normal"
                else:
                    i += 1
                continue
            # normal
            if ch == "-" and line.startswith("--", i):
                if not self.content:
                    cut = n
                break
            if ch == "/" and line.startswith("/*", i):
                self.mode = "block"
                self.block_depth = 1
                i += 2
                continue
            if ch.isspace():
                i += 1
                continue
            if not self.content:
                self.content = True
                self.start_line = lineno
                cut = i
            if ch == "'":
                escaped = i > 0 and line[i - 1] in "eE" and not (i > 1 and _ident_char(line[i - 2]))
                self.mode = "equote" if escaped else "quote"
                i += 1
            elif ch == '"':
                self.mode = "dquote"
                i += 1
            elif ch == "$" and not (i > 0 and _ident_char(line[i - 1])):
                m = _TAG.match(line, i)
                if m:
                    self.mode = "dollar"
                    self.tag = m.group(0)
                    i = m.end()
                else:
                    i += 1
            elif ch == "\\":
                raise RefusedError(
                    f"{self.where} line {lineno}: a backslash outside a literal "
                    f"(a psql meta-command): {_show(line[i:])}"
                )
            elif ch == "(":
                self.depth += 1
                i += 1
            elif ch == ")":
                self.depth = max(0, self.depth - 1)
                i += 1
            elif ch == ";" and self.depth == 0 and not self.atomic:
                self.buf.append(line[cut : i + 1])
                text = "".join(self.buf).strip()
                yield Statement(text, self.start_line)
                self.buf = []
                self.size = 0
                self.content = False
                self.prev_word = ""
                i += 1
                cut = i
            elif _ident_char(ch) and not ch.isdigit():
                j = i
                while j < n and _ident_char(line[j]):
                    j += 1
                word = line[i:j].lower()
                if word == "atomic" and self.prev_word == "begin":
                    self.atomic = True
                elif self.atomic and word == "case":
                    self.case_depth += 1
                elif self.atomic and word == "end" and self.depth == 0:
                    if self.case_depth:
                        self.case_depth -= 1
                    else:
                        self.atomic = False
                self.prev_word = word
                i = j
            else:
                i += 1
        if self.content or self.mode != "normal":
            piece = line[cut:]
            self.buf.append(piece)
            self.size += len(piece)
            if self.size > MAX_STATEMENT:
                raise RefusedError(
                    f"{self.where} line {self.start_line}: a statement longer than "
                    f"{MAX_STATEMENT} bytes"
                )


def _ident_char(ch: str) -> bool:
    return ch.isalnum() or ch in "_$" or ord(ch) > 127


def _show(text: str, limit: int = 120) -> str:
    one = " ".join(text.split())
    return one if len(one) <= limit else one[: limit - 1] + "…"


# -- tokens --------------------------------------------------------------------------------------

Token = tuple[str, str]  # (kind, value): word (lowercased), ident (quoted), str, num, op, body


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif text.startswith("--", i):
            nl = text.find("\n", i)
            i = n if nl < 0 else nl + 1
        elif text.startswith("/*", i):
            depth = 0
            while i < n:
                if text.startswith("/*", i):
                    depth += 1
                    i += 2
                elif text.startswith("*/", i):
                    depth -= 1
                    i += 2
                    if depth == 0:
                        break
                else:
                    i += 1
        elif ch == '"':
            j = i + 1
            parts = []
            while j < n:
                if text[j] == '"':
                    if j + 1 < n and text[j + 1] == '"':
                        parts.append('"')
                        j += 2
                        continue
                    break
                parts.append(text[j])
                j += 1
            tokens.append(("ident", "".join(parts)))
            i = j + 1
        elif ch == "'" or (ch in "eE" and text.startswith("'", i + 1)):
            escaped = ch != "'"
            j = i + (2 if escaped else 1)
            parts = []
            while j < n:
                c = text[j]
                if escaped and c == "\\" and j + 1 < n:
                    parts.append(text[j + 1])
                    j += 2
                    continue
                if c == "'":
                    if j + 1 < n and text[j + 1] == "'":
                        parts.append("'")
                        j += 2
                        continue
                    break
                parts.append(c)
                j += 1
            tokens.append(("str", "".join(parts)))
            i = j + 1
        elif ch == "$" and (m := _TAG.match(text, i)):
            close = text.find(m.group(0), m.end())
            end = n if close < 0 else close + len(m.group(0))
            tokens.append(("body", text[m.end() : close if close >= 0 else n]))
            i = end
        elif ch.isdigit() or (ch == "-" and i + 1 < n and text[i + 1].isdigit()):
            j = i + 1
            while j < n and (text[j].isalnum() or text[j] == "."):
                j += 1
            tokens.append(("num", text[i:j]))
            i = j
        elif _ident_char(ch):
            j = i
            while j < n and _ident_char(text[j]):
                j += 1
            tokens.append(("word", text[i:j].lower()))
            i = j
        else:
            tokens.append(("op", ch))
            i += 1
    return tokens


# -- the rules -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """What the backup's SQL may touch: its own schemas, as the restoring role."""

    schemas: frozenset[str]
    role: str
    where: str


class _Refuse(Exception):
    pass


class _Cursor:
    def __init__(self, tokens: list[Token]) -> None:
        self.t = tokens
        self.i = 0

    def peek(self, k: int = 0) -> Token | None:
        j = self.i + k
        return self.t[j] if j < len(self.t) else None

    def word(self, *words: str) -> bool:
        """Consume the words if they come next."""
        for k, w in enumerate(words):
            if self.peek(k) != ("word", w):
                return False
        self.i += len(words)
        return True

    def expect(self, *words: str) -> None:
        if not self.word(*words):
            raise _Refuse(f"expected {' '.join(words).upper()}")

    def op(self, ch: str) -> bool:
        if self.peek() == ("op", ch):
            self.i += 1
            return True
        return False

    def name_part(self) -> str:
        tok = self.peek()
        if tok is None or tok[0] not in ("word", "ident"):
            raise _Refuse("expected a name")
        self.i += 1
        return tok[1]

    def qualified(self) -> tuple[str, ...]:
        parts = [self.name_part()]
        while self.op("."):
            parts.append(self.name_part())
        return tuple(parts)

    def end(self) -> None:
        self.op(";")
        if self.i != len(self.t):
            raise _Refuse(f"unexpected text after the statement: {self.t[self.i][1]!r}")

    def skip_parens(self) -> None:
        if not self.op("("):
            return
        depth = 1
        while depth and self.i < len(self.t):
            tok = self.t[self.i]
            if tok == ("op", "("):
                depth += 1
            elif tok == ("op", ")"):
                depth -= 1
            self.i += 1

    def top_level(self) -> Iterator[int]:
        """Indexes of the tokens after the cursor that lie outside parentheses."""
        depth = 0
        for j in range(self.i, len(self.t)):
            tok = self.t[j]
            if tok == ("op", "("):
                depth += 1
            elif tok == ("op", ")"):
                depth -= 1
            elif depth == 0:
                yield j

    def find(self, *words: str) -> int | None:
        for j in self.top_level():
            if all(
                j + k < len(self.t) and self.t[j + k] == ("word", w) for k, w in enumerate(words)
            ):
                return j
        return None


def _in_app(ctx: Context, name: tuple[str, ...], what: str) -> None:
    if len(name) < 2:
        raise _Refuse(f"{what} {'.'.join(name)} is not schema-qualified")
    if name[0] not in ctx.schemas:
        raise _Refuse(f"{what} {'.'.join(name)} lies outside the backup's schemas")


def check_data_statement(statement: Statement, ctx: Context) -> CopyTarget:
    """`auth-data.sql`: a COPY into one of the auth tables, nothing else."""
    return _checked(statement, ctx, _auth_rule)


def check_attachment(statement: Statement, ctx: Context) -> None:
    """`platform-attachments.sql`: a trigger on a platform table calling an app function, or an
    app table added to a publication."""
    _checked(statement, ctx, _attachment_rule)


def check_app_statement(statement: Statement, ctx: Context) -> CopyTarget | None:
    """A statement of the SQL pg_restore makes of `app.pgdump`; a COPY's target, if one."""
    return _checked(statement, ctx, _app_rule)


T = TypeVar("T")


def _checked(statement: Statement, ctx: Context, rule: Callable[[_Cursor, Context], T]) -> T:
    text = statement.text
    if text.startswith("\\"):
        raise RefusedError(
            f"{ctx.where} line {statement.line}: a psql meta-command: {_show(text)}",
            "a backup holds only the SQL `lift-db dump` writes; nothing was run",
        )
    try:
        return rule(_Cursor(tokenize(text)), ctx)
    except _Refuse as exc:
        raise RefusedError(
            f"{ctx.where} line {statement.line}: refused ({exc}): {_show(text)}",
            "a backup holds only the SQL `lift-db dump` writes; nothing was run",
        ) from None


def _copy(c: _Cursor) -> CopyTarget:
    c.expect("copy")
    name = c.qualified()
    if len(name) != 2:
        raise _Refuse("COPY names no schema-qualified table")
    columns: list[str] = []
    if not c.op("("):
        raise _Refuse("COPY without a column list")
    while True:
        columns.append(c.name_part())
        if c.op(")"):
            break
        if not c.op(","):
            raise _Refuse("malformed COPY column list")
    c.expect("from", "stdin")
    c.end()
    return CopyTarget(name[0], name[1], tuple(columns))


def _auth_rule(c: _Cursor, ctx: Context) -> CopyTarget:
    target = _copy(c)
    if (target.schema, target.table) not in (("auth", "users"), ("auth", "identities")):
        raise _Refuse(f"COPY into {target.schema}.{target.table}, not an auth table of the app")
    return target


def _attachment_rule(c: _Cursor, ctx: Context) -> None:
    if c.word("alter", "publication"):
        c.name_part()
        c.expect("add")
        if c.word("tables", "in", "schema"):
            schema = c.name_part()
            if schema not in ctx.schemas:
                raise _Refuse(f"schema {schema} lies outside the backup's schemas")
            c.end()
            return
        c.expect("table")
        _in_app(ctx, c.qualified(), "table")
        c.skip_parens()
        if c.word("where"):
            c.skip_parens()
        c.end()
        return
    c.expect("create", "trigger")
    c.name_part()
    on = c.find("on")
    if on is None:
        raise _Refuse("a trigger on no table")
    c.i = on + 1
    table = c.qualified()
    if len(table) != 2 or table[0] in ctx.schemas or table[0] in NEVER_SCHEMAS:
        raise _Refuse(f"a trigger on {'.'.join(table)}, not on a platform table")
    run = c.find("execute")
    if run is None:
        raise _Refuse("a trigger that runs no function")
    c.i = run + 1
    if not (c.word("function") or c.word("procedure")):
        raise _Refuse("expected EXECUTE FUNCTION")
    _in_app(ctx, c.qualified(), "trigger function")
    if not (c.op("(") and c.op(")")):
        raise _Refuse("a trigger function with arguments")
    c.end()


_CREATE_KINDS = (
    ("materialized", "view"),
    ("table",),
    ("view",),
    ("sequence",),
    ("function",),
    ("procedure",),
    ("aggregate",),
    ("type",),
    ("domain",),
    ("statistics",),
    ("collation",),
    ("text", "search", "configuration"),
    ("text", "search", "dictionary"),
)
_ALTER_KINDS = (
    *_CREATE_KINDS,
    ("index",),
    ("routine",),
)
_GRANT_KINDS = (
    ("table",),
    ("sequence",),
    ("function",),
    ("procedure",),
    ("routine",),
    ("type",),
    ("domain",),
)
_COMMENT_KINDS = (
    *_CREATE_KINDS,
    ("index",),
    ("column",),
    ("routine",),
)


def _app_rule(c: _Cursor, ctx: Context) -> CopyTarget | None:
    first = c.peek()
    if first is None:
        raise _Refuse("an empty statement")
    head = first[1] if first[0] == "word" else ""
    if head == "set":
        _set_rule(c)
    elif head == "select":
        _select_rule(c, ctx)
    elif head == "copy":
        target = _copy(c)
        _in_app(ctx, (target.schema, target.table), "table")
        return target
    elif head == "create":
        _create_rule(c, ctx)
    elif head == "alter":
        _alter_rule(c, ctx)
    elif head in ("grant", "revoke"):
        _grant_rule(c, ctx)
    elif head == "comment":
        _comment_rule(c, ctx)
    elif c.word("refresh", "materialized", "view"):
        c.word("concurrently")
        _in_app(ctx, c.qualified(), "materialized view")
        c.end()
    else:
        raise _Refuse(f"{(head or first[1]).upper()} is not a statement pg_dump writes")
    return None


def _set_rule(c: _Cursor) -> None:
    c.expect("set")
    tok = c.peek()
    if tok is None or tok[0] != "word" or tok[1] not in SETTINGS:
        raise _Refuse(f"SET {tok[1] if tok else ''} is not a setting pg_dump writes")
    c.i += 1
    if not (c.op("=") or c.word("to")):
        raise _Refuse("malformed SET")
    value = c.peek()
    if value is None or value[0] not in ("word", "str", "num"):
        raise _Refuse("malformed SET")
    if tok[1] == "client_encoding" and value[1].upper() not in ("UTF8", "UTF-8"):
        raise _Refuse("a client encoding other than UTF8")
    if tok[1] == "standard_conforming_strings" and value[1].lower() != "on":
        raise _Refuse("standard_conforming_strings off (literals would read otherwise)")
    c.i += 1
    c.end()


def _select_rule(c: _Cursor, ctx: Context) -> None:
    c.expect("select")
    if c.word("pg_catalog") and c.op(".") and c.word("set_config"):
        if (
            c.op("(")
            and c.peek() == ("str", "search_path")
            and c.peek(1) == ("op", ",")
            and c.peek(2) == ("str", "")
            and c.peek(3) == ("op", ",")
            and c.peek(4) == ("word", "false")
        ):
            c.i += 5
            if c.op(")"):
                c.end()
                return
        raise _Refuse("a set_config other than pg_dump's search_path")
    c.i = 1
    if c.word("pg_catalog") and c.op(".") and c.word("setval") and c.op("("):
        tok = c.peek()
        if tok is not None and tok[0] == "str":
            c.i += 1
            _in_app(ctx, _Cursor(tokenize(tok[1])).qualified(), "sequence")
            if (
                c.op(",")
                and (c.peek() or ("", ""))[0] == "num"
                and c.peek(1) == ("op", ",")
                and c.peek(2) in (("word", "true"), ("word", "false"))
                and c.peek(3) == ("op", ")")
            ):
                c.i += 4
                c.end()
                return
    raise _Refuse("SELECT is only pg_dump's set_config and setval")


def _kind(c: _Cursor, kinds: tuple[tuple[str, ...], ...]) -> tuple[str, ...] | None:
    for kind in kinds:
        if c.word(*kind):
            return kind
    return None


def _owner_to(c: _Cursor, ctx: Context) -> None:
    """OWNER TO names the restoring role only; no SET SCHEMA or RENAME moves an object out."""
    for j in list(c.top_level()):
        if c.t[j] == ("word", "owner") and j + 1 < len(c.t) and c.t[j + 1] == ("word", "to"):
            owner = c.t[j + 2] if j + 2 < len(c.t) else ("", "")
            if owner[1] != ctx.role:
                raise _Refuse(f"ownership given to {owner[1]}, not to the restoring role")
        if c.t[j] == ("word", "rename"):
            raise _Refuse("RENAME")
        if c.t[j] == ("word", "set") and j + 1 < len(c.t) and c.t[j + 1] == ("word", "schema"):
            raise _Refuse("SET SCHEMA")
        if c.t[j] == ("word", "depends"):
            raise _Refuse("DEPENDS ON EXTENSION")


def _names_after(c: _Cursor, ctx: Context, *words: str) -> None:
    """Every table named after `words` (INHERITS, PARTITION OF, ATTACH PARTITION) is the app's."""
    at = c.find(*words)
    while at is not None:
        c.i = at + len(words)
        if c.op("("):
            while True:
                _in_app(ctx, c.qualified(), "table")
                if not c.op(","):
                    break
        else:
            _in_app(ctx, c.qualified(), "table")
        at = c.find(*words)


def _create_rule(c: _Cursor, ctx: Context) -> None:
    c.expect("create")
    c.word("or", "replace")
    if c.word("schema"):
        schema = c.name_part()
        if schema not in ctx.schemas or schema == "public":
            raise _Refuse(f"schema {schema} is not one of the backup's own schemas")
        c.end()
        return
    c.word("unique")
    c.word("constraint")
    if c.word("index") or c.word("trigger") or c.word("policy"):
        on = c.find("on")
        if on is None:
            raise _Refuse("names no table")
        c.i = on + 1
        c.word("only")
        _in_app(ctx, c.qualified(), "table")
        _no_reference_outside(c, ctx)
        return
    c.word("unlogged")
    c.word("recursive")
    if _kind(c, _CREATE_KINDS) is None:
        tok = c.peek()
        raise _Refuse(f"CREATE {(tok or ('', ''))[1].upper()} is not a statement pg_dump writes")
    c.word("if", "not", "exists")
    _in_app(ctx, c.qualified(), "object")
    start = c.i
    _names_after(c, ctx, "inherits")
    c.i = start
    _names_after(c, ctx, "partition", "of")
    c.i = start
    _owner_to(c, ctx)


def _no_reference_outside(c: _Cursor, ctx: Context) -> None:
    _owner_to(c, ctx)


def _alter_rule(c: _Cursor, ctx: Context) -> None:
    c.expect("alter")
    if c.word("default", "privileges"):
        if c.word("for"):
            if not (c.word("role") or c.word("user")):
                raise _Refuse("malformed ALTER DEFAULT PRIVILEGES")
            while True:
                role = c.name_part()
                if role != ctx.role:
                    raise _Refuse(f"default privileges of role {role}, not the restoring role")
                if not c.op(","):
                    break
        if not c.word("in", "schema"):
            raise _Refuse("default privileges outside the backup's schemas")
        while True:
            schema = c.name_part()
            if schema not in ctx.schemas:
                raise _Refuse(f"default privileges in schema {schema}")
            if not c.op(","):
                break
        if c.peek() not in (("word", "grant"), ("word", "revoke")):
            raise _Refuse("malformed ALTER DEFAULT PRIVILEGES")
        return
    if c.word("schema"):
        schema = c.name_part()
        if schema not in ctx.schemas or schema == "public":
            raise _Refuse(f"schema {schema} is not one of the backup's own schemas")
        if not c.word("owner", "to"):
            raise _Refuse("ALTER SCHEMA other than OWNER TO")
        if c.name_part() != ctx.role:
            raise _Refuse("a schema given to another role")
        c.end()
        return
    if c.word("policy") or c.word("trigger"):
        c.name_part()
        c.expect("on")
        _in_app(ctx, c.qualified(), "table")
        _owner_to(c, ctx)
        return
    if _kind(c, _ALTER_KINDS) is None:
        tok = c.peek()
        raise _Refuse(f"ALTER {(tok or ('', ''))[1].upper()} is not a statement pg_dump writes")
    c.word("if", "exists")
    c.word("only")
    _in_app(ctx, c.qualified(), "object")
    start = c.i
    _owner_to(c, ctx)
    _names_after(c, ctx, "attach", "partition")
    c.i = start
    _names_after(c, ctx, "inherit")
    c.i = start
    owned = c.find("owned", "by")
    if owned is not None:
        c.i = owned + 2
        if not c.word("none"):
            _in_app(ctx, c.qualified(), "column")


def _grant_rule(c: _Cursor, ctx: Context) -> None:
    c.i = 1
    on = c.find("on")
    if on is None:
        raise _Refuse("a grant of a role")
    c.i = on + 1
    if c.word("schema"):
        while True:
            schema = c.name_part()
            if schema not in ctx.schemas:
                raise _Refuse(f"a grant on schema {schema}")
            if not c.op(","):
                break
        return
    if c.peek() == ("word", "all"):
        raise _Refuse("a grant on all objects of a schema")
    kind = _kind(c, _GRANT_KINDS)
    if kind is None and c.peek() is not None and c.peek(1) not in (("op", "."),):
        raise _Refuse(f"a grant on {(c.peek() or ('', ''))[1].upper()}")
    while True:
        _in_app(ctx, c.qualified(), "object")
        c.skip_parens()
        if not c.op(","):
            break
    if not (c.word("to") or c.word("from")):
        raise _Refuse("malformed GRANT")


def _comment_rule(c: _Cursor, ctx: Context) -> None:
    c.expect("comment", "on")
    if c.word("schema"):
        schema = c.name_part()
        if schema not in ctx.schemas:
            raise _Refuse(f"a comment on schema {schema}")
    elif c.word("trigger") or c.word("policy") or c.word("constraint") or c.word("rule"):
        c.name_part()
        c.expect("on")
        c.word("domain")
        _in_app(ctx, c.qualified(), "object")
    elif _kind(c, _COMMENT_KINDS) is not None:
        _in_app(ctx, c.qualified(), "object")
    else:
        raise _Refuse(f"a comment on {(c.peek() or ('', ''))[1].upper()}")
    c.skip_parens()
    if not c.word("is"):
        raise _Refuse("malformed COMMENT")
