"""Split a migration file into statements the way the Supabase CLI does.

The CLI stores each migration's statements in `supabase_migrations.schema_migrations.statements`;
our runner writes the same array so that its history is indistinguishable from `db push`'s.
Statements are cut at `;` outside quotes, dollar quotes, comments, parentheses and
`begin atomic … end` bodies, keep their comments, and lose the trailing `;` and white space.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TAG = re.compile(r"\$([A-Za-z_\u0080-\U0010ffff][\w\u0080-\U0010ffff]*)?\$")
_ATOMIC = re.compile(r"(?<![\w$])atomic(?![\w$])", re.IGNORECASE)
_END = re.compile(r"(?<![\w$])end(?![\w$])", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z_]+")


@dataclass(frozen=True)
class Statement:
    text: str
    line: int  # 1-based line of the file where the statement's text starts


def split_statements(sql: str) -> list[Statement]:
    """The file's statements, trimmed, with the line each one starts on."""
    out: list[Statement] = []
    start = 0
    depth = 0  # parentheses
    atomic = False  # inside `begin atomic … end`
    i = 0
    n = len(sql)
    while i < n:
        ch = sql[i]
        if ch == "-" and sql.startswith("--", i):
            nl = sql.find("\n", i)
            i = n if nl < 0 else nl + 1
            continue
        if ch == "/" and sql.startswith("/*", i):
            i = _skip_block_comment(sql, i)
            continue
        if ch in "'\"":
            i = _skip_quoted(sql, i, ch)
            continue
        if ch == "$":
            m = _TAG.match(sql, i)
            if m and not (i > 0 and (sql[i - 1].isalnum() or sql[i - 1] == "_")):
                close = sql.find(m.group(0), m.end())
                i = n if close < 0 else close + len(m.group(0))
                continue
        if ch == "(":
            depth += 1
        elif ch == ")" and depth > 0:
            depth -= 1
        elif ch in "aA" and not atomic and _ATOMIC.match(sql, i) and _after_begin(sql, i):
            atomic = True
        elif ch in "eE" and atomic and depth == 0 and _END.match(sql, i):
            atomic = False
        elif ch == ";" and depth == 0 and not atomic:
            _emit(sql, start, i + 1, out)
            start = i + 1
        i += 1
    _emit(sql, start, n, out)
    return out


def _emit(sql: str, start: int, end: int, out: list[Statement]) -> None:
    raw = sql[start:end]
    text = raw.rstrip(";").strip()
    if not text:
        return
    lead = len(raw) - len(raw.lstrip())
    out.append(Statement(text, sql.count("\n", 0, start + lead) + 1))


def _skip_block_comment(sql: str, i: int) -> int:
    depth = 0
    n = len(sql)
    while i < n:
        if sql.startswith("/*", i):
            depth += 1
            i += 2
        elif sql.startswith("*/", i):
            depth -= 1
            i += 2
            if depth == 0:
                return i
        else:
            i += 1
    return n


def _skip_quoted(sql: str, i: int, quote: str) -> int:
    n = len(sql)
    i += 1
    while i < n:
        if sql[i] == quote:
            if i + 1 < n and sql[i + 1] == quote:
                i += 2
                continue
            return i + 1
        i += 1
    return n


def leading_words(text: str, count: int) -> list[str]:
    """The first `count` words of a statement, lowercased, read past comments the way the server
    reads them (`--` to the end of the line, nested `/* */` anywhere between words)."""
    words: list[str] = []
    i = 0
    n = len(text)
    while i < n and len(words) < count:
        if text[i].isspace():
            i += 1
        elif text.startswith("--", i):
            nl = text.find("\n", i)
            i = n if nl < 0 else nl + 1
        elif text.startswith("/*", i):
            i = _skip_block_comment(text, i)
        else:
            word = _WORD.match(text, i)
            if word is None:
                break
            words.append(word.group(0).lower())
            i = word.end()
    return words


def _after_begin(sql: str, i: int) -> bool:
    return re.search(r"(?<![\w$])begin\s+$", sql[max(0, i - 40) : i], re.IGNORECASE) is not None
