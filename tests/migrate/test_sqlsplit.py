"""The statement splitter cuts where the Supabase CLI cuts, and knows each statement's line."""

from __future__ import annotations

from lift_db.migrate._sqlsplit import split_statements


def _texts(sql: str) -> list[str]:
    return [s.text for s in split_statements(sql)]


def test_semicolons_inside_literals_comments_and_bodies_do_not_split() -> None:
    sql = (
        "-- header; still a comment\n"
        "select 'a;b', \"odd;name\" from t;\n"
        "/* block; /* nested; */ comment */ select 2;\n"
        "create function f() returns int language sql as $$ select 1; $$;\n"
        "create function g() returns int language plpgsql as $body$ begin return 1; end $body$;\n"
        "select 'it''s; fine';"
    )
    assert _texts(sql) == [
        "-- header; still a comment\nselect 'a;b', \"odd;name\" from t",
        "/* block; /* nested; */ comment */ select 2",
        "create function f() returns int language sql as $$ select 1; $$",
        "create function g() returns int language plpgsql as $body$ begin return 1; end $body$",
        "select 'it''s; fine'",
    ]


def test_begin_atomic_bodies_stay_whole() -> None:
    sql = (
        "create function h() returns int language sql begin atomic select 1; select 2; end;\n"
        "select 3;"
    )
    assert _texts(sql) == [
        "create function h() returns int language sql begin atomic select 1; select 2; end",
        "select 3",
    ]


def test_empty_statements_vanish_and_lines_are_counted_from_the_first_character() -> None:
    statements = split_statements("\n\n;;  select 1;\n\n  select\n 2;\n")
    assert [(s.text, s.line) for s in statements] == [("select 1", 3), ("select\n 2", 5)]


def test_positional_parameters_are_not_dollar_quotes() -> None:
    sql = "prepare p as select $1; select 2;"
    assert _texts(sql) == ["prepare p as select $1", "select 2"]
