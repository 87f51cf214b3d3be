"""The red team's attacks, one function per class (docs/security.md, "Red team").

Each function attacks every target of its class that the catalog shows, as every identity of
`IDENTITIES`, and returns what it tried and what got through; tests/security/test_red_team.py
runs them and fails on any success. Every attack is rolled back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import psycopg
from psycopg import sql

from tests.reliability.support import Conn
from tests.security import tally
from tests.security.catalog import (
    Function,
    Privileges,
    Relation,
    Touch,
    functions,
    privileges,
    reaching,
    relations,
    settings_read,
)
from tests.security.catalog import executable as can_execute
from tests.security.identity import IDENTITIES, Attacker, Identity, Outcome, attacker
from tests.security.rows import Row, RowSets, locator, row_sets
from tests.security.shadows import (
    BACKDOOR,
    SPY_PREFIX,
    ShadowCatalog,
    callers,
    shadow_catalog,
    shadows_for,
    spy,
)
from tests.security.world import World
from tests.security.writes import (
    call,
    cast,
    fresh_value,
    insert,
    insert_columns,
    insert_with,
    touch_all_rows,
    update_row,
)

TABLE_KINDS = ("r", "p")
LOCK_MODES = (
    "access share",
    "row share",
    "row exclusive",
    "share update exclusive",
    "share",
    "share row exclusive",
    "exclusive",
    "access exclusive",
)
# The modes that conflict with what other users' requests take (ACCESS SHARE to read, ROW SHARE
# to lock rows, ROW EXCLUSIVE to write) or with autovacuum (SHARE UPDATE EXCLUSIVE).
BLOCKING_MODES = LOCK_MODES[3:]

# Far above any cap a column of this schema could sensibly have; built by the server.
OVERSIZE_BYTES = 16 * 1024 * 1024
DEPTH = 5000
TEXT_TYPES = ("text", "varchar", "bpchar")
JSON_TYPES = ("jsonb", "json")
# A refusal of a value names what is wrong with it: a data exception, a broken constraint, a
# program limit.
TYPED_REFUSALS = ("22", "23", "54")

# Settings that are the identity itself: set by the trusted layer, outside what an attacker may
# change (one who could would be someone else).
IDENTITY_SETTINGS = re.compile(r"^(role|session_authorization|request\.jwt\..*)$")
# Server settings an attacker may reach for, with what the schema reads itself.
SERVER_SETTINGS = (
    "statement_timeout",
    "lock_timeout",
    "idle_in_transaction_session_timeout",
    "transaction_timeout",
    "row_security",
    "search_path",
    "session_replication_role",
    "plan_cache_mode",
    "hnsw.ef_search",
    "hnsw.iterative_scan",
    "hnsw.max_scan_tuples",
)


class Attacks:
    """The attacks of one class in one run: each refused, or described when it succeeded.
    `count`: whether they go into the figures (not when the red team is tested itself)."""

    def __init__(self, attack_class: str, count: bool = True) -> None:
        self.attack_class = attack_class
        self.count = count
        self.tried = 0
        self.succeeded: list[str] = []

    def record(self, identity: Identity, target: str, refused: bool, how: str = "") -> None:
        self.tried += 1
        description = f"{identity.label}: {target}" + (f": {how}" if how else "")
        if self.count:
            tally.record(self.attack_class, refused, description)
        if not refused:
            self.succeeded.append(description)

    def note(self, name: str, amount: int = 1) -> None:
        if self.count:
            tally.note(name, amount)

    def verdict(self) -> None:
        assert self.tried > 0, f"{self.attack_class}: no attack was tried (nothing found to aim at)"
        assert self.succeeded == [], (
            f"{self.attack_class}: {len(self.succeeded)} of {self.tried} attacks succeeded:\n"
            + "\n".join(self.succeeded)
        )


@dataclass
class Targets:
    relations: list[Relation]
    functions: list[Function]
    reaching: dict[int, set[Touch]]
    settings: set[str]
    shadows: ShadowCatalog
    by_oid: dict[int, Relation]
    vector_dims: int | None


def discover(admin: Conn) -> Targets:
    """Everything the red team aims at, from the catalog."""
    rels = relations(admin)
    funcs = functions(admin)
    dims = admin.execute(
        "select a.atttypmod from pg_catalog.pg_attribute as a"
        " where a.atttypid = 'extensions.vector'::pg_catalog.regtype and a.atttypmod > 0 limit 1"
    ).fetchone()
    found = Targets(
        rels,
        funcs,
        reaching(admin, funcs),
        settings_read(admin, funcs),
        shadow_catalog(admin),
        {r.oid: r for r in rels},
        None if dims is None else int(dims[0]),
    )
    return found


class Rows:
    """Row sets per (relation, role), computed once."""

    def __init__(self, world: World, admin: Conn) -> None:
        self.world = world
        self.admin = admin
        self._privileges: dict[tuple[int, str], Privileges] = {}
        self._sets: dict[tuple[int, str], RowSets] = {}

    def privileges(self, rel: Relation, role: str) -> Privileges:
        key = (rel.oid, role)
        if key not in self._privileges:
            self._privileges[key] = privileges(self.admin, role, rel)
        return self._privileges[key]

    def sets(self, rel: Relation, role: str) -> RowSets:
        key = (rel.oid, role)
        if key not in self._sets:
            identity = Identity("postgres", role)  # type: ignore[arg-type]
            with attacker(self.world.url, identity, self.world.attacker) as a:
                self._sets[key] = row_sets(
                    self.admin,
                    a,
                    rel,
                    self.privileges(rel, role),
                    [
                        self.world.victim,
                        self.world.victim_hidden_session,
                        self.world.victim_shared_session,
                    ],
                )
        return self._sets[key]


def plain_values(world: World, identity: Identity, targets: Targets) -> dict[str, str]:
    """Arguments an attacker passes by default: ids of their own, a valid vector."""
    values = {"uuid": str(world.attacker_session)}
    if targets.vector_dims:
        values["vector"] = "[" + ",".join(["1"] + ["0"] * (targets.vector_dims - 1)) + "]"
    return values


def tables(targets: Targets) -> list[Relation]:
    return [r for r in targets.relations if r.kind in TABLE_KINDS]


# -- 1. pg_temp shadowing ---------------------------------------------------------------------


def _touch_statements(
    touch: Touch, targets: Targets, rows: Rows, identity: Identity, world: World
) -> list[tuple[str, sql.Composed]]:
    """How the identity runs what `touch` names, if it may at all."""
    if touch.kind == "call":
        f = next((f for f in targets.functions if f.oid == touch.oid), None)
        if f is None or not can_execute(rows.admin, identity.role, f):
            return []
        return [(f"call {f.signature}", call(f, plain_values(world, identity, targets)))]
    rel = targets.by_oid.get(touch.oid)
    if rel is None:  # a relation outside the schemas an API role may use
        return []
    privs = rows.privileges(rel, identity.role)
    name = sql.SQL("{}.{}").format(sql.Identifier(rel.schema), sql.Identifier(rel.name))
    if touch.kind == "select" and privs.any_select:
        return [(f"{rel.qualified}: read", sql.SQL("select count(*) from {}").format(name))]
    if touch.kind == "delete" and privs.delete:
        return [(f"{rel.qualified}: delete", sql.SQL("delete from {}").format(name))]
    if touch.kind == "update" and privs.update:
        return [(f"{rel.qualified}: update", touch_all_rows(rel, privs.update))]
    if touch.kind == "insert" and privs.insert:
        template = rows.sets(rel, identity.role).template if rel.kind in TABLE_KINDS else None
        if template is None:
            return []
        values = insert_columns(rel, privs.insert, template)
        return [(f"{rel.qualified}: insert", insert(rel, values))]
    return []


def _shadow_targets(targets: Targets) -> list[Function]:
    """SECURITY DEFINER functions, and every function a policy, trigger, default, check or
    view runs (directly or through other functions)."""
    return [
        f
        for f in targets.functions
        if f.security_definer or any(t.kind != "call" for t in targets.reaching[f.oid])
    ]


def pg_temp_shadowing(
    world: World, targets: Targets, rows: Rows, admin: Conn, count: bool = True
) -> Attacks:
    """Class 1: pg_temp shadows of what each function resolves, then everything that runs it."""
    attacks = Attacks("pg_temp shadowing", count)
    before = _catalog_state(admin)
    for function in _shadow_targets(targets):
        shadows = shadows_for(function, targets.shadows)
        for identity in IDENTITIES:
            touches = [
                s
                for t in sorted(targets.reaching[function.oid], key=lambda t: (t.kind, t.oid))
                for s in _touch_statements(t, targets, rows, identity, world)
            ]
            if not touches:
                attacks.note(f"pg_temp shadowing: out of {identity.role}'s reach")
                continue
            target = f"{function.signature} (definer={function.security_definer})"
            with attacker(world.url, identity, world.attacker) as a, a.request():
                planted = [a.run(s) for s in spy(identity.role)]
                if not all(p.ok for p in planted):
                    attacks.record(identity, target, True)
                    attacks.note("pg_temp shadowing: temporary objects refused")
                    continue
                made = sum(a.run(ddl).ok for _, ddl in shadows.statements)
                attacks.note("pg_temp shadowing: shadows planted", made)
                for _, statement in touches:
                    a.run(statement)
                attacks.note("pg_temp shadowing: statements run under shadows", len(touches))
                backdoor = a.run(
                    sql.SQL("select pg_catalog.to_regprocedure({}) is not null").format(
                        sql.Literal(BACKDOOR)
                    )
                )
                runs = [n.split("|") for n in a.notices if n.startswith(SPY_PREFIX)]
                escalated = sorted(
                    {
                        f"{r[1]} ran as {r[2]} in {callers(r[4])}"
                        for r in runs
                        if len(r) > 4 and r[2] != identity.role
                    }
                )
                left_behind = backdoor.ok and backdoor.rows == ((True,),)
                how = "; ".join(escalated) + (f"; created {BACKDOOR}" if left_behind else "")
                attacks.record(identity, target, not escalated and not left_behind, how)
    assert _catalog_state(admin) == before, "the shadows changed the catalog"
    return attacks


def _catalog_state(admin: Conn) -> list[str]:
    return [
        str(r[0])
        for r in admin.execute(
            "select p.oid::pg_catalog.regprocedure::text from pg_catalog.pg_proc as p"
            " join pg_catalog.pg_namespace as n on n.oid = p.pronamespace"
            " where n.nspname !~ '^pg_' and n.nspname <> 'information_schema'"
            " union all select c.oid::pg_catalog.regclass::text || ' rls=' || c.relrowsecurity"
            " from pg_catalog.pg_class as c where c.relkind in ('r', 'p')"
            " order by 1"
        ).fetchall()
    ]


# -- 2. ON CONFLICT DO UPDATE … WHERE ------------------------------------------------------


def _lock_held(admin: Conn, rel: Relation, row: Row) -> str | None:
    """Whether another session finds the row locked (it never waits)."""
    try:
        with admin.transaction(force_rollback=True):
            admin.execute(
                sql.SQL("select 1 from {}.{} as t where {} for update nowait").format(
                    sql.Identifier(rel.schema), sql.Identifier(rel.name), locator(row)
                )
            )
    except psycopg.errors.LockNotAvailable:
        return "the row was locked"
    return None


def on_conflict(
    world: World, targets: Targets, rows: Rows, admin: Conn, count: bool = True
) -> Attacks:
    """Class 2: INSERT … ON CONFLICT DO UPDATE … WHERE on other users' rows."""
    attacks = Attacks("ON CONFLICT leak and lock", count)
    for rel in tables(targets):
        for identity in IDENTITIES:
            privs = rows.privileges(rel, identity.role)
            if not privs.insert:
                continue
            sets = rows.sets(rel, identity.role)
            template = sets.template or {}
            set_column = next(iter(sorted(privs.update)), None) or rel.columns[0].name
            for key in rel.unique_keys:
                for standing, victim in sets.victims():
                    values = {
                        c.name: template.get(c.name) for c in rel.columns if c.name in privs.insert
                    }
                    values.update({c: victim[c] for c in key.columns})
                    for variant, where in (
                        (
                            "leak",
                            "pg_catalog.set_config('red_team.leak',"
                            " pg_catalog.row_to_json(t.*)::pg_catalog.text, true) is null",
                        ),
                        ("lock", "false"),
                    ):
                        conflict = sql.SQL(
                            " on conflict ({arbiter}){pred} do update set {col} = excluded.{col}"
                            " where {where}"
                        ).format(
                            arbiter=sql.SQL(", ").join(sql.SQL(a) for a in key.arbiter),
                            pred=sql.SQL(f" where {key.predicate}" if key.predicate else ""),
                            col=sql.Identifier(set_column),
                            where=sql.SQL(where),
                        )
                        target = f"{rel.qualified} key {key.name}, {standing} row, {variant}"
                        with attacker(world.url, identity, world.attacker) as a, a.request():
                            out = a.run(insert(rel, values, conflict))
                            leaked = a.run(
                                "select pg_catalog.current_setting('red_team.leak', true)"
                            )
                            locked = _lock_held(admin, rel, victim)
                        got = leaked.rows[0][0] if leaked.ok and leaked.rows else None
                        problems = [p for p in (locked,) if p]
                        if got:
                            problems.append(f"read {len(str(got))} bytes of it")
                        attacks.record(
                            identity, target, not problems, f"{'; '.join(problems)} ({out.text()})"
                        )
    return attacks


# -- 3. oversized and deep payloads -----------------------------------------------------------


def _payloads(base_type: str, type_sql: str) -> list[tuple[str, sql.Composed]]:
    big = sql.SQL("pg_catalog.repeat('x', {})").format(sql.Literal(OVERSIZE_BYTES))
    if base_type in TEXT_TYPES:
        return [("oversized", sql.SQL("{}::{}").format(big, sql.SQL(type_sql)))]
    deep = sql.SQL(
        "(pg_catalog.repeat('{{\"a\": ', {d}) || '1' || pg_catalog.repeat('}}', {d}))::{t}"
    ).format(d=sql.Literal(DEPTH), t=sql.SQL(type_sql))
    return [
        (
            "oversized",
            sql.SQL("pg_catalog.jsonb_build_object('red_team', {})::{}").format(
                big, sql.SQL(type_sql)
            ),
        ),
        (f"{DEPTH} levels deep", deep),
    ]


def _paths(rel: Relation, column: str, privs: Privileges, sets: RowSets) -> list[tuple[str, Row]]:
    """The ways to write a column: an update of an own row, an insert shaped like one."""
    paths: list[tuple[str, Row]] = []
    template = sets.template
    if column in privs.update and sets.writable:
        paths.append(("update", sets.writable[0]))
    if column in privs.insert and template is not None:
        paths.append(("insert", insert_columns(rel, privs.insert, template)))
    return paths


def _write(
    rel: Relation,
    path: str,
    data: Row | dict[str, str | None],
    overrides: dict[str, sql.Composable],
) -> sql.Composed:
    """An update of the attacker's row `data`, or an insert of the values `data`, with some
    columns set to SQL expressions."""
    if path == "update":
        return update_row(rel, data, overrides)
    return insert_with(rel, data, overrides)


def _digest(admin: Conn, rel: Relation) -> str:
    row = admin.execute(
        sql.SQL(
            "select pg_catalog.md5(coalesce(pg_catalog.string_agg(t::text, '|' order by t::text),"
            " '')) from {}.{} as t"
        ).format(sql.Identifier(rel.schema), sql.Identifier(rel.name))
    ).fetchone()
    return str(row[0]) if row else ""


def payloads(
    world: World, targets: Targets, rows: Rows, admin: Conn, count: bool = True
) -> Attacks:
    """Class 3: oversized and deep values into every writable text and JSON column."""
    attacks = Attacks("oversized and deep payloads", count)
    for rel in tables(targets):
        written = False
        before = _digest(admin, rel)
        for identity in IDENTITIES:
            privs = rows.privileges(rel, identity.role)
            for col in rel.columns:
                if col.base_type not in TEXT_TYPES + JSON_TYPES or col.generated:
                    continue
                if col.name not in privs.insert | privs.update:
                    continue
                sets = rows.sets(rel, identity.role)
                usable = 0
                for path, data in _paths(rel, col.name, privs, sets):
                    with attacker(world.url, identity, world.attacker) as a, a.request():
                        current = data.get(col.name) or (sets.template or {}).get(col.name)
                        control = a.run(
                            _write(rel, path, data, {col.name: cast(current, col.type_sql)}),
                            undo=True,
                        )
                        if not control.ok or control.rowcount != 1:
                            attacks.note("payloads: write paths without a working control")
                            continue
                        usable += 1
                        for label, value in _payloads(col.base_type, col.type_sql):
                            out = a.run(_write(rel, path, data, {col.name: value}), undo=True)
                            typed = out.state is not None and out.state[:2] in TYPED_REFUSALS
                            attacks.record(
                                identity,
                                f"{rel.qualified}.{col.name} {label} by {path}",
                                typed,
                                out.text(),
                            )
                            written = True
                if usable == 0:
                    attacks.record(
                        identity,
                        f"{rel.qualified}.{col.name}",
                        False,
                        "writable, but no write of a well-formed value worked to compare with",
                    )
        if written:
            assert _digest(admin, rel) == before, f"{rel.qualified} changed"
    return attacks


# -- 4. LOCK TABLE ------------------------------------------------------------------------------


def table_locks(
    world: World, targets: Targets, rows: Rows, admin: Conn, count: bool = True
) -> Attacks:
    """Class 4: LOCK TABLE in every mode on every relation."""
    attacks = Attacks("LOCK TABLE", count)
    for identity in IDENTITIES:
        with attacker(world.url, identity, world.attacker) as a:
            for rel in targets.relations:
                for mode in LOCK_MODES:
                    with a.request():
                        out = a.run(
                            sql.SQL("lock table {}.{} in {} mode nowait").format(
                                sql.Identifier(rel.schema), sql.Identifier(rel.name), sql.SQL(mode)
                            )
                        )
                    granted = out.state in (None, "55P03")  # 55P03: granted, had to wait
                    if mode not in BLOCKING_MODES:
                        attacks.note(f"LOCK TABLE: harmless modes granted ({mode})", int(granted))
                        continue
                    attacks.record(identity, f"{rel.qualified} in {mode} mode", not granted)
    return attacks


# -- 5. existence oracles -----------------------------------------------------------------------


def _normal(out: Outcome, *values: str) -> tuple[object, ...]:
    def scrub(text: str) -> str:
        for v in values:
            text = text.replace(v, "<value>")
        return text

    return (out.state, scrub(out.message), scrub(out.detail), scrub(out.hint), out.rowcount)


def _groups(rel: Relation, targets: Targets) -> list[tuple[str, list[str], Relation, list[str]]]:
    """Column groups whose values name a row: each unique key (a row of the table itself) and
    each foreign key (a row of the table it references)."""
    groups = [(f"key {k.name}", k.columns, rel, k.columns) for k in rel.unique_keys]
    for fk in rel.foreign_keys:
        target = next((t for t in targets.relations if t.qualified == fk.target), None)
        if target is not None:
            groups.append((f"reference to {fk.target}", fk.columns, target, fk.target_columns))
    return groups


def _compare(
    attacks: Attacks,
    identity: Identity,
    world: World,
    target: str,
    hidden: tuple[sql.Composed, list[str]],
    missing: tuple[sql.Composed, list[str]],
) -> tuple[Outcome, Outcome]:
    """Run the statement naming a hidden row and the one naming a missing row, each in a new
    session; the attack succeeds when their outcomes tell them apart."""
    seen = []
    for statement, _ in (hidden, missing):
        with attacker(world.url, identity, world.attacker) as a, a.request():
            seen.append(a.run(statement))
    values = [*hidden[1], *missing[1]]
    same = _normal(seen[0], *values) == _normal(seen[1], *values)
    attacks.record(identity, target, same, f"hidden: {seen[0].text()} / missing: {seen[1].text()}")
    return seen[0], seen[1]


def _hidden_ids(targets: Targets, rows: Rows, role: str) -> list[str]:
    """One id of a hidden row per table: the uuid columns of its unique keys."""
    found: list[str] = []
    for rel in tables(targets):
        for key in rel.unique_keys:
            for c in key.columns:
                if rel.column(c).base_type == "uuid":
                    found += [str(r[c]) for r in rows.sets(rel, role).hidden[:1] if r.get(c)]
    return list(dict.fromkeys(found))


def oracles(world: World, targets: Targets, rows: Rows, admin: Conn, count: bool = True) -> Attacks:
    """Class 5: the same write or call naming a hidden row and a missing one."""
    attacks = Attacks("existence oracles", count)
    for identity in IDENTITIES:
        for rel in tables(targets):
            privs = rows.privileges(rel, identity.role)
            sets = rows.sets(rel, identity.role)
            for label, columns, source, source_columns in _groups(rel, targets):
                victims = rows.sets(source, identity.role).hidden[:1]
                for path in ("insert", "update"):
                    allowed = privs.insert if path == "insert" else privs.update
                    if not set(columns) & allowed or (path == "update" and not sets.writable):
                        continue
                    data: Row = (
                        sets.writable[0]
                        if path == "update"
                        else insert_columns(rel, privs.insert, sets.template or {})
                    )
                    for victim in victims:
                        hidden = [str(victim[c]) for c in source_columns]
                        missing = [fresh_value(rel.column(c).base_type) for c in columns]
                        statements = [
                            _write(
                                rel,
                                path,
                                data,
                                {
                                    c: cast(v, rel.column(c).type_sql)
                                    for c, v in zip(columns, vals, strict=True)
                                },
                            )
                            for vals in (hidden, missing)
                        ]
                        if label.startswith("reference"):
                            # Referring to a row the app lets one name (a user to share with)
                            # necessarily works; what must not differ is how a refusal reads.
                            with attacker(world.url, identity, world.attacker) as a, a.request():
                                if a.run(statements[0]).ok:
                                    attacks.note(
                                        "existence oracles: permitted references to a hidden row"
                                    )
                                    continue
                        _compare(
                            attacks,
                            identity,
                            world,
                            f"{path} {rel.qualified} {label} = a hidden row's",
                            (statements[0], hidden),
                            (statements[1], missing),
                        )
        # Functions: every argument that takes an id, given a hidden row's id or a new one.
        for f in targets.functions:
            if not can_execute(rows.admin, identity.role, f):
                continue
            plain = plain_values(world, identity, targets)
            for i in range(f.required_args):
                if f.arg_base_types[i] != "uuid":
                    continue
                for value in _hidden_ids(targets, rows, identity.role):
                    fresh = fresh_value("uuid")
                    _compare(
                        attacks,
                        identity,
                        world,
                        f"{f.signature} argument {i + 1} = a hidden row's id",
                        (call(f, plain, {i: value}), [value]),
                        (call(f, plain, {i: fresh}), [fresh]),
                    )
    return attacks


# -- 6. set_config ------------------------------------------------------------------------------


def _setting_values(admin: Conn, name: str, world: World) -> list[str]:
    row = admin.execute(
        "select vartype, enumvals, min_val, max_val from pg_catalog.pg_settings where name = %s",
        (name,),
    ).fetchone()
    if row is None:  # a setting of the app's own, or of a library not loaded yet
        return ["", "0", "-1", "2147483647", "on", str(world.victim), "x" * 100_000]
    vartype, enumvals, low, high = row
    if vartype == "bool":
        return ["on", "off"]
    if vartype == "enum":
        return [str(v) for v in enumvals]
    if vartype in ("integer", "real"):
        return list(dict.fromkeys(["0", str(low), str(high)]))
    if name == "search_path":
        return ["pg_temp, public", "", "private, public, auth", '"$user", pg_temp']
    return ["", str(world.victim)]


def _reach(a: Attacker, targets: Targets, rows: Rows, identity: Identity) -> dict[str, object]:
    """What the attacker reaches: the rows of every relation (as md5s), rows of others they can
    change, and who they are."""
    seen: dict[str, object] = {}
    for rel in targets.relations:
        out = a.run(
            sql.SQL("select pg_catalog.md5(t::pg_catalog.text) from {}.{} as t").format(
                sql.Identifier(rel.schema), sql.Identifier(rel.name)
            )
        )
        seen[f"rows of {rel.qualified}"] = (
            frozenset(r[0] for r in out.rows) if out.ok else frozenset()
        )
    for rel in tables(targets):
        privs = rows.privileges(rel, identity.role)
        if not privs.update:
            continue
        col = sorted(privs.update)[0]
        sets = rows.sets(rel, identity.role)
        for standing, victim in sets.victims():
            out = a.run(
                update_row(rel, victim, {col: sql.SQL("t.{}").format(sql.Identifier(col))}),
                undo=True,
            )
            seen[f"{standing} rows of {rel.qualified} changed"] = frozenset(
                range(out.rowcount if out.ok else 0)
            )
    who = a.run("select current_user::text, session_user::text")
    seen["identity"] = frozenset(who.rows)
    return seen


def settings(
    world: World, targets: Targets, rows: Rows, admin: Conn, count: bool = True
) -> Attacks:
    """Class 6: settings the schema reads or the server honours, then everything in reach."""
    attacks = Attacks("set_config", count)
    names = sorted(
        {s for s in targets.settings if not IDENTITY_SETTINGS.match(s)} | set(SERVER_SETTINGS)
    )
    attacks.note("set_config: settings the schema reads", len(targets.settings))
    for identity in IDENTITIES:
        with attacker(world.url, identity, world.attacker) as a:
            with a.request():
                baseline = _reach(a, targets, rows, identity)
            for name in names:
                for value in _setting_values(admin, name, world):
                    with a.request():
                        out = a.run("select pg_catalog.set_config(%s, %s, false)", (name, value))
                        reach = _reach(a, targets, rows, identity) if out.ok else baseline
                    wider = [
                        k
                        for k, v in reach.items()
                        if not v <= baseline.get(k, frozenset())  # type: ignore[operator]
                    ]
                    shown = value if len(value) < 40 else f"{value[:20]}… ({len(value)} chars)"
                    attacks.record(identity, f"set {name} = {shown!r}", not wider, ", ".join(wider))
    return attacks
