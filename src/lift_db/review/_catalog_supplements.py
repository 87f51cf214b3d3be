"""What the schema differ leaves out, read from one catalog each: privileges and publications.

The differ (`results`, docs/migrations.md) compares table-level grants only, and not publication
membership. These supplements compare the database the differ's SQL produced with the target,
so they add exactly what is still missing and nothing the differ already wrote. `lift-db diff`
verifies the result like the rest of the migration: a supplement cannot hide a difference.

- privileges: the ACL of every table, view, sequence, column, function, procedure and schema
  (`relacl`, `attacl`, `proacl`, `nspacl`; a null ACL is the owner's default, `acldefault`);
- row security of partitions: `relrowsecurity`, `relforcerowsecurity` (the differ crashes when
  it has to alter a partition, so it is kept from trying);
- publication membership: `pg_publication_rel`, the tables a publication names itself.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import psycopg
from psycopg.rows import TupleRow

from lift_db.review._schema_entries import HARNESS_SCHEMAS

Conn = psycopg.Connection[TupleRow]

_SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast")

# One row per (object, grantee, privilege): the object as GRANT names it, the grantee's name
# (`public` for everyone) and whether the grantee may pass it on. The owner's own privileges
# are not compared (GRANT cannot give an owner less than everything), but keep the object known.
_ACL_QUERY = """
with acl as (
  select format('%%s %%I.%%I', case c.relkind when 'S' then 'sequence' else 'table' end,
                n.nspname, c.relname) as object, null as column_name,
         n.nspname as schema, c.relowner as owner,
         pg_catalog.aclexplode(coalesce(c.relacl, pg_catalog.acldefault(
           (case c.relkind when 'S' then 's' else 'r' end)::"char", c.relowner))) as item
    from pg_catalog.pg_class as c
    join pg_catalog.pg_namespace as n on n.oid = c.relnamespace
   where c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')
  union all
  select format('table %%I.%%I', n.nspname, c.relname), format('%%I', a.attname), n.nspname,
         c.relowner,
         pg_catalog.aclexplode(a.attacl)
    from pg_catalog.pg_attribute as a
    join pg_catalog.pg_class as c on c.oid = a.attrelid
    join pg_catalog.pg_namespace as n on n.oid = c.relnamespace
   where a.attnum > 0 and not a.attisdropped and a.attacl is not null
     and c.relkind in ('r', 'p', 'v', 'm', 'f')
  union all
  select format('%%s %%I.%%I(%%s)', case p.prokind when 'p' then 'procedure' else 'function' end,
                n.nspname, p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid)),
         null, n.nspname, p.proowner,
         pg_catalog.aclexplode(coalesce(p.proacl, pg_catalog.acldefault('f'::"char", p.proowner)))
    from pg_catalog.pg_proc as p
    join pg_catalog.pg_namespace as n on n.oid = p.pronamespace
  union all
  select format('schema %%I', n.nspname), null, n.nspname, n.nspowner,
         pg_catalog.aclexplode(coalesce(n.nspacl, pg_catalog.acldefault('n'::"char", n.nspowner)))
    from pg_catalog.pg_namespace as n
)
select acl.object,
       acl.column_name,
       coalesce(quote_ident(r.rolname), 'public'),
       (acl.item).privilege_type,
       (acl.item).is_grantable,
       (acl.item).grantee = acl.owner
  from acl
  left join pg_catalog.pg_roles as r on r.oid = (acl.item).grantee
 where acl.schema <> all (%(skipped)s)
   and acl.schema not like 'pg\\_temp\\_%%' and acl.schema not like 'pg\\_toast\\_temp\\_%%'
"""

_PUBLICATION_QUERY = """
select format('%%I', p.pubname), format('%%I.%%I', n.nspname, c.relname)
  from pg_catalog.pg_publication_rel as pr
  join pg_catalog.pg_publication as p on p.oid = pr.prpubid
  join pg_catalog.pg_class as c on c.oid = pr.prrelid
  join pg_catalog.pg_namespace as n on n.oid = c.relnamespace
 where n.nspname <> all (%(skipped)s)
"""


@dataclass(frozen=True)
class Supplement:
    """Statements of one class the differ does not cover, named for the migration's comment."""

    name: str
    statements: list[str]


def _skipped() -> list[str]:
    return [*_SYSTEM_SCHEMAS, *sorted(HARNESS_SCHEMAS)]


_Object = tuple[str, str | None]  # as GRANT names it, and the column for a column's ACL


def _acl(conn: Conn) -> dict[_Object, dict[str, set[tuple[str, bool]]]]:
    """object → grantee → {(privilege, grantable)}"""
    found: dict[_Object, dict[str, set[tuple[str, bool]]]] = defaultdict(lambda: defaultdict(set))
    for obj, column, grantee, privilege, grantable, owners in conn.execute(
        _ACL_QUERY, {"skipped": _skipped()}
    ).fetchall():
        grantees = found[(obj, column)]
        if not owners:
            grantees[grantee].add((str(privilege).lower(), bool(grantable)))
    return found


def _list(privileges: list[str], column: str | None) -> str:
    return ", ".join(f"{p} ({column})" if column else p for p in privileges)


def privileges(current: Conn, target: Conn) -> Supplement:
    """GRANT and REVOKE statements taking `current`'s ACLs to `target`'s, object by object.

    Objects only one side has are left alone: creating or dropping them is the differ's part,
    and the verification reports them if it was not done.
    """
    have, want = _acl(current), _acl(target)
    statements: list[str] = []
    # A column without privileges of its own has no ACL row: compare the columns of every
    # relation both sides have.
    both = {o for o in want.keys() & have.keys() if o[1] is None}
    objects = {o for o in want.keys() | have.keys() if (o[0], None) in both}
    for obj, column in sorted(objects, key=lambda o: (o[0], o[1] or "")):
        wanted_by, held_by = want.get((obj, column), {}), have.get((obj, column), {})
        for grantee in sorted(wanted_by.keys() | held_by.keys()):
            wanted, held = wanted_by.get(grantee, set()), held_by.get(grantee, set())
            if wanted == held:
                continue
            held_option = {p: g for p, g in held}
            wanted_option = {p: g for p, g in wanted}
            revoke = sorted(held_option.keys() - wanted_option.keys())
            grant = sorted(p for p, g in wanted_option.items() if not g and p not in held_option)
            grant_option = sorted(
                p for p, g in wanted_option.items() if g and not held_option.get(p, False)
            )
            # Held with the grant option where it should be held without: take the option back.
            drop_option = sorted(
                p for p, g in wanted_option.items() if not g and held_option.get(p, False)
            )
            if revoke:
                statements.append(f"revoke {_list(revoke, column)} on {obj} from {grantee};")
            if drop_option:
                statements.append(
                    f"revoke grant option for {_list(drop_option, column)} on {obj} from {grantee};"
                )
            if grant:
                statements.append(f"grant {_list(grant, column)} on {obj} to {grantee};")
            if grant_option:
                statements.append(
                    f"grant {_list(grant_option, column)} on {obj} to {grantee} with grant option;"
                )
    return Supplement("privileges (columns, functions, views, sequences, schemas)", statements)


def _publications(conn: Conn) -> set[tuple[str, str]]:
    rows = conn.execute(_PUBLICATION_QUERY, {"skipped": _skipped()}).fetchall()
    return {(str(pub), str(table)) for pub, table in rows}


def publication_membership(current: Conn, target: Conn) -> Supplement:
    """`alter publication … add/drop table` for the tables named differently."""
    have, want = _publications(current), _publications(target)
    statements = [f"alter publication {p} drop table {t};" for p, t in sorted(have - want)]
    statements += [f"alter publication {p} add table {t};" for p, t in sorted(want - have)]
    return Supplement("publication membership", statements)


_ROW_SECURITY_QUERY = """
select format('%%I.%%I', n.nspname, c.relname), c.relrowsecurity, c.relforcerowsecurity
  from pg_catalog.pg_class as c
  join pg_catalog.pg_namespace as n on n.oid = c.relnamespace
 where c.relkind in ('r', 'p') and n.nspname <> all (%(skipped)s)
"""


def _row_security(conn: Conn) -> dict[str, tuple[bool, bool]]:
    rows = conn.execute(_ROW_SECURITY_QUERY, {"skipped": _skipped()}).fetchall()
    return {str(table): (bool(enabled), bool(forced)) for table, enabled, forced in rows}


def row_security(current: Conn, target: Conn) -> Supplement:
    """`enable`/`disable` and `force`/`no force row level security` where they differ."""
    have, want = _row_security(current), _row_security(target)
    statements: list[str] = []
    for table in sorted(have.keys() & want.keys()):
        (enabled, forced), (want_enabled, want_forced) = have[table], want[table]
        if enabled != want_enabled:
            verb = "enable" if want_enabled else "disable"
            statements.append(f"alter table {table} {verb} row level security;")
        if forced != want_forced:
            verb = "force" if want_forced else "no force"
            statements.append(f"alter table {table} {verb} row level security;")
    return Supplement("row security of partitions", statements)


def compute(current: Conn, target: Conn) -> list[Supplement]:
    return [
        row_security(current, target),
        privileges(current, target),
        publication_membership(current, target),
    ]
