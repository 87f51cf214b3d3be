"""Everything a restore must leave as it found it, and the check that it did.

A restore may create the backup's own schemas and what lies in them, the auth rows the manifest
lists, and the attachments it lists (app triggers on auth tables, app tables in a publication).
Nothing else may change: roles (attributes, passwords, settings, memberships), databases,
tablespaces, per-role and per-database settings, the server's configuration files, every other
schema (`auth`, `extensions`, `storage`, …) and what is in it, and the database-wide objects
(extensions, event triggers, languages, casts, foreign servers, publications, large objects,
global default privileges).

Two independent checks, both inside the restore's transaction, before it commits:

- `take` lists those objects and their definitions before and after; any difference is named;
- `writes` reads the transaction's own row counters of the shared and database-wide catalogs
  (pg_stat_get_xact_tuples_*): a role changed and changed back, or a password (which only a
  superuser can read), still shows as a write.
"""

from __future__ import annotations

import psycopg
from psycopg.rows import TupleRow

# Catalogs a restore never needs to write. pg_shdepend is left out: owning and granting write it.
UNTOUCHED_CATALOGS = (
    "pg_authid",
    "pg_auth_members",
    "pg_database",
    "pg_db_role_setting",
    "pg_tablespace",
    "pg_shdescription",
    "pg_shseclabel",
    "pg_replication_origin",
    "pg_subscription",
    "pg_parameter_acl",
    "pg_event_trigger",
    "pg_extension",
    "pg_language",
    "pg_cast",
    "pg_foreign_data_wrapper",
    "pg_foreign_server",
    "pg_user_mapping",
    "pg_publication",
    "pg_largeobject_metadata",
    "pg_transform",
    "pg_am",
)

_WRITES = """
select c.relname,
       pg_catalog.pg_stat_get_xact_tuples_inserted(c.oid)
       + pg_catalog.pg_stat_get_xact_tuples_updated(c.oid)
       + pg_catalog.pg_stat_get_xact_tuples_deleted(c.oid)
  from pg_catalog.pg_class as c
 where c.relnamespace = 'pg_catalog'::pg_catalog.regnamespace and c.relname = any(%s)
 order by 1
"""

# %(app)s: the schemas the restore creates (and public); %(kept)s: oids of objects that were in
# public before. An object counts when its schema is not the app's, or it was there before.
_FOOTPRINT = """
with ns as (
  select n.oid, n.nspname
    from pg_catalog.pg_namespace as n
   where n.nspname <> all(%(app)s) and n.nspname not like 'pg\\_temp\\_%%'
     and n.nspname not like 'pg\\_toast\\_temp\\_%%' and n.nspname <> 'pg_toast'
), rel as (
  select c.oid from pg_catalog.pg_class as c
   where c.relnamespace in (select oid from ns) or c.oid = any(%(kept)s)
)
select 'role ' || r.rolname || ' ' || pg_catalog.concat_ws(',', r.rolsuper, r.rolinherit,
       r.rolcreaterole, r.rolcreatedb, r.rolcanlogin, r.rolreplication, r.rolbypassrls,
       r.rolconnlimit, r.rolvaliduntil, r.rolconfig::text)
  from pg_catalog.pg_roles as r
union all
select 'membership ' || m.roleid::regrole::text || ' in ' || m.member::regrole::text || ' by '
       || m.grantor::regrole::text || ' ' || pg_catalog.concat_ws(',', m.admin_option,
       m.inherit_option, m.set_option)
  from pg_catalog.pg_auth_members as m
union all
select 'database ' || d.datname || ' ' || pg_catalog.concat_ws(',', d.datdba::regrole::text,
       d.datallowconn, d.datconnlimit, d.datistemplate, d.datacl::text)
  from pg_catalog.pg_database as d
union all
select 'setting of role ' || coalesce(s.setrole::regrole::text, '*') || ' in database '
       || coalesce((select datname from pg_catalog.pg_database where oid = s.setdatabase), '*')
       || ': ' || s.setconfig::text
  from pg_catalog.pg_db_role_setting as s
union all
select 'tablespace ' || t.spcname || ' ' || pg_catalog.concat_ws(',', t.spcowner::regrole::text,
       t.spcacl::text, t.spcoptions::text)
  from pg_catalog.pg_tablespace as t
union all
select 'schema ' || n.nspname || ' ' || pg_catalog.concat_ws(',', n.nspowner::regrole::text,
       n.nspacl::text)
  from pg_catalog.pg_namespace as n join ns on ns.oid = n.oid
union all
select 'relation ' || c.oid::regclass::text || ' ' || pg_catalog.concat_ws(',', c.relkind,
       c.relowner::regrole::text, c.relacl::text, c.relrowsecurity, c.relforcerowsecurity,
       c.relhassubclass, c.relhastriggers, c.relhasrules, c.reloptions::text, c.relispartition,
       c.relfilenode,
       pg_catalog.md5(coalesce(pg_catalog.pg_get_viewdef(c.oid), ''))) || ' columns '
       || coalesce((select pg_catalog.md5(pg_catalog.string_agg(pg_catalog.concat_ws(',',
             a.attname, a.atttypid::regtype::text, a.attnotnull, a.attacl::text,
             a.attgenerated, pg_catalog.pg_get_expr(ad.adbin, ad.adrelid)), ';'
             order by a.attnum))
           from pg_catalog.pg_attribute as a
           left join pg_catalog.pg_attrdef as ad
             on ad.adrelid = a.attrelid and ad.adnum = a.attnum
          where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped), '')
  from pg_catalog.pg_class as c join rel on rel.oid = c.oid
union all
select 'index ' || i.indexrelid::regclass::text || ' ' || pg_catalog.pg_get_indexdef(i.indexrelid)
  from pg_catalog.pg_index as i join rel on rel.oid = i.indrelid
union all
select 'constraint ' || k.conname || ' on ' || coalesce(k.conrelid::regclass::text, '-') || ' '
       || coalesce(k.contypid::regtype::text, '-') || ' ' || pg_catalog.pg_get_constraintdef(k.oid)
  from pg_catalog.pg_constraint as k
 where k.connamespace in (select oid from ns) or k.conrelid = any(%(kept)s)
union all
select 'inheritance ' || h.inhrelid::regclass::text || ' of ' || h.inhparent::regclass::text
  from pg_catalog.pg_inherits as h join rel on rel.oid = h.inhparent
union all
select 'trigger ' || t.tgname || ' ' || t.tgenabled::text || ' '
       || pg_catalog.pg_get_triggerdef(t.oid)
  from pg_catalog.pg_trigger as t join rel on rel.oid = t.tgrelid
  join pg_catalog.pg_proc as p on p.oid = t.tgfoid
 where not t.tgisinternal and p.pronamespace in (select oid from ns)
union all
select 'policy ' || p.polname || ' on ' || p.polrelid::regclass::text || ' '
       || pg_catalog.concat_ws(',', p.polcmd, p.polpermissive, p.polroles::text,
       pg_catalog.pg_get_expr(p.polqual, p.polrelid),
       pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid))
  from pg_catalog.pg_policy as p join rel on rel.oid = p.polrelid
union all
select 'rule ' || w.rulename || ' on ' || w.ev_class::regclass::text || ' '
       || pg_catalog.md5(pg_catalog.pg_get_ruledef(w.oid))
  from pg_catalog.pg_rewrite as w join rel on rel.oid = w.ev_class
union all
select 'function ' || p.oid::regprocedure::text || ' ' || pg_catalog.concat_ws(',',
       p.proowner::regrole::text, p.prolang, p.prosecdef, p.proleakproof, p.proisstrict,
       p.provolatile, p.proparallel, p.prorettype::regtype::text, p.proconfig::text,
       p.proacl::text, p.probin, pg_catalog.md5(coalesce(p.prosrc, '')),
       pg_catalog.md5(coalesce(p.prosqlbody::text, '')))
  from pg_catalog.pg_proc as p
 where p.pronamespace in (select oid from ns) or p.oid = any(%(kept)s)
union all
select 'type ' || t.oid::regtype::text || ' '
       || pg_catalog.concat_ws(',', t.typowner::regrole::text, t.typtype, t.typacl::text,
       t.typinput, t.typoutput)
  from pg_catalog.pg_type as t
 where t.typnamespace in (select oid from ns) or t.oid = any(%(kept)s)
union all
select 'operator ' || o.oid::regoperator::text || ' ' || o.oprcode::text
  from pg_catalog.pg_operator as o where o.oprnamespace in (select oid from ns)
union all
select 'operator class ' || o.opcname || ' ' || o.opcnamespace::regnamespace::text
  from pg_catalog.pg_opclass as o where o.opcnamespace in (select oid from ns)
union all
select 'collation ' || o.collname || ' ' || o.collnamespace::regnamespace::text
  from pg_catalog.pg_collation as o where o.collnamespace in (select oid from ns)
union all
select 'conversion ' || o.conname || ' ' || o.connamespace::regnamespace::text
  from pg_catalog.pg_conversion as o where o.connamespace in (select oid from ns)
union all
select 'text search configuration ' || o.cfgname || ' ' || o.cfgnamespace::regnamespace::text
  from pg_catalog.pg_ts_config as o where o.cfgnamespace in (select oid from ns)
union all
select 'text search dictionary ' || o.dictname || ' ' || o.dictnamespace::regnamespace::text
  from pg_catalog.pg_ts_dict as o where o.dictnamespace in (select oid from ns)
union all
select 'statistics ' || o.stxname || ' ' || o.stxnamespace::regnamespace::text
  from pg_catalog.pg_statistic_ext as o where o.stxnamespace in (select oid from ns)
union all
select 'comment ' || d.classoid::regclass::text || ' ' || d.objoid || ' ' || d.objsubid || ' '
       || pg_catalog.md5(d.description)
  from pg_catalog.pg_description as d
 where d.objoid in (select oid from rel)
    or d.objoid in (select oid from ns)
    or d.objoid in (select p.oid from pg_catalog.pg_proc as p
                     where p.pronamespace in (select oid from ns))
union all
select 'default privileges of ' || a.defaclrole::regrole::text || ' in '
       || coalesce(a.defaclnamespace::regnamespace::text, '*') || ' on ' || a.defaclobjtype::text
       || ': ' || a.defaclacl::text
  from pg_catalog.pg_default_acl as a
 where a.defaclnamespace = 0 or a.defaclnamespace in (select oid from ns)
union all
select 'extension ' || e.extname || ' ' || pg_catalog.concat_ws(',', e.extversion,
       e.extnamespace::regnamespace::text, e.extowner::regrole::text, e.extconfig::text)
  from pg_catalog.pg_extension as e
union all
select 'event trigger ' || e.evtname || ' ' || pg_catalog.concat_ws(',', e.evtevent,
       e.evtfoid::regprocedure::text, e.evtenabled, e.evttags::text)
  from pg_catalog.pg_event_trigger as e
union all
select 'language ' || l.lanname || ' ' || pg_catalog.concat_ws(',', l.lanowner::regrole::text,
       l.lanpltrusted, l.lanacl::text)
  from pg_catalog.pg_language as l
union all
select 'cast ' || c.castsource::regtype::text || ' as ' || c.casttarget::regtype::text || ' '
       || c.castfunc::text || ' ' || c.castcontext::text
  from pg_catalog.pg_cast as c
union all
select 'foreign data wrapper ' || w.fdwname || ' ' || w.fdwowner::regrole::text
  from pg_catalog.pg_foreign_data_wrapper as w
union all
select 'foreign server ' || s.srvname || ' ' || s.srvowner::regrole::text
  from pg_catalog.pg_foreign_server as s
union all
select 'user mapping ' || u.usename || ' ' || u.srvname
  from pg_catalog.pg_user_mappings as u
union all
select 'publication ' || p.pubname || ' ' || pg_catalog.concat_ws(',', p.pubowner::regrole::text,
       p.puballtables, p.pubinsert, p.pubupdate, p.pubdelete, p.pubtruncate, p.pubviaroot)
  from pg_catalog.pg_publication as p
union all
select 'publication table ' || r.prpubid || ' ' || r.prrelid::regclass::text
  from pg_catalog.pg_publication_rel as r join rel on rel.oid = r.prrelid
union all
select 'publication schema ' || r.pnpubid || ' ' || r.pnnspid::regnamespace::text
  from pg_catalog.pg_publication_namespace as r join ns on ns.oid = r.pnnspid
union all
select 'large object ' || l.oid || ' ' || l.lomowner::regrole::text || ' ' || l.lomacl::text
  from pg_catalog.pg_largeobject_metadata as l
"""

# The server's configuration files (ALTER SYSTEM writes postgresql.auto.conf); readable only by
# superusers and pg_read_all_settings, which the local restore's admin connection is.
_FILE_SETTINGS = """
select 'configuration file ' || f.sourcefile || ': ' || f.name || ' = ' || coalesce(f.setting, '')
  from pg_catalog.pg_file_settings as f
"""


def can_read_file_settings(conn: psycopg.Connection[TupleRow]) -> bool:
    row = conn.execute(
        "select pg_catalog.pg_has_role(current_user, 'pg_read_all_settings', 'member')"
    ).fetchone()
    return bool(row and row[0])


def public_objects(conn: psycopg.Connection[TupleRow]) -> list[int]:
    """Oids of what lies in `public` before the restore adds the backup's objects to it."""
    rows = conn.execute(
        "select c.oid from pg_catalog.pg_class as c where c.relnamespace = 'public'::regnamespace"
        " union all select p.oid from pg_catalog.pg_proc as p"
        " where p.pronamespace = 'public'::regnamespace"
        " union all select t.oid from pg_catalog.pg_type as t"
        " where t.typnamespace = 'public'::regnamespace"
    ).fetchall()
    return [int(r[0]) for r in rows]


def take(
    conn: psycopg.Connection[TupleRow], app_schemas: list[str], kept: list[int]
) -> frozenset[str]:
    """One line per protected object and its definition (see the module docstring)."""
    # Names print qualified or not depending on the search path: fix it for both sides.
    conn.execute("select pg_catalog.set_config('search_path', '', true)")
    rows = conn.execute(
        _FOOTPRINT.encode(), {"app": [*app_schemas, "public"], "kept": kept}
    ).fetchall()
    lines = {str(r[0]) for r in rows}
    if can_read_file_settings(conn):
        lines |= {str(r[0]) for r in conn.execute(_FILE_SETTINGS.encode()).fetchall()}
    return frozenset(lines)


def writes(conn: psycopg.Connection[TupleRow]) -> dict[str, int]:
    """Rows this transaction has written so far in each catalog of UNTOUCHED_CATALOGS."""
    rows = conn.execute(_WRITES.encode(), (list(UNTOUCHED_CATALOGS),)).fetchall()
    return {str(name): int(count) for name, count in rows}


_TABLE_WRITES = """
select c.oid::regclass::text,
       pg_catalog.pg_stat_get_xact_tuples_inserted(c.oid),
       pg_catalog.pg_stat_get_xact_tuples_updated(c.oid),
       pg_catalog.pg_stat_get_xact_tuples_deleted(c.oid)
  from pg_catalog.pg_class as c
  join pg_catalog.pg_namespace as n on n.oid = c.relnamespace
 where c.relkind in ('r', 'p', 'm')
   and (n.nspname <> all(%(app)s) or c.oid = any(%(kept)s))
   and n.nspname not in ('pg_catalog', 'pg_toast', 'information_schema')
   and n.nspname not like 'pg\\_temp\\_%%'
   and pg_catalog.pg_stat_get_xact_tuples_inserted(c.oid)
       + pg_catalog.pg_stat_get_xact_tuples_updated(c.oid)
       + pg_catalog.pg_stat_get_xact_tuples_deleted(c.oid) > 0
"""


def table_writes(
    conn: psycopg.Connection[TupleRow], app_schemas: list[str], kept: list[int]
) -> dict[str, tuple[int, int, int]]:
    """Rows this transaction inserted, updated and deleted so far in each table outside the app's
    schemas (auth's tables, storage's, …): a restore writes there only the auth rows it loads."""
    conn.execute("select pg_catalog.set_config('search_path', '', true)")
    rows = conn.execute(
        _TABLE_WRITES.encode(), {"app": [*app_schemas, "public"], "kept": kept}
    ).fetchall()
    return {str(r[0]): (int(r[1]), int(r[2]), int(r[3])) for r in rows}


def differences(before: frozenset[str], after: frozenset[str], limit: int = 8) -> str:
    """The changes between two footprints, for a message."""
    changes = [f"- {line}" for line in sorted(before - after)]
    changes += [f"+ {line}" for line in sorted(after - before)]
    shown = "; ".join(changes[:limit])
    more = len(changes) - limit
    return shown + (f"; and {more} more" if more > 0 else "")
