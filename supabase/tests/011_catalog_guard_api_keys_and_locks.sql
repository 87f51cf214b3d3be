-- Two rules read from the catalog, so that a table added by a later migration is checked
-- without editing this file; each failure names the role, the table and the column or privilege.
--
-- Keys. INSERT … ON CONFLICT evaluates its WHERE clause on, and locks, a conflicting row before
-- RLS speaks, and a unique violation says the row exists. So no API role (anon, authenticated)
-- may fill every column of a unique key (primary key, unique constraint or unique index, its
-- expression columns included) with values of its choosing: at least one column of each key
-- must be out of its INSERT privilege (the database generates it) or bound to the caller by a
-- BEFORE INSERT row trigger running private.require_caller_key('<column>:<rule>'), which runs
-- before the conflict check. service_role is exempt: it bypasses RLS and reads every row.
--
-- Locks. LOCK TABLE in a mode above ROW EXCLUSIVE, the modes that stop other users' reads or
-- writes, needs table-level UPDATE, DELETE, TRUNCATE or MAINTAIN; API roles hold none of them.
begin;
select plan(8);

create temporary view api_proposable_keys as
with api_roles as (
  select
r.oid as role_oid,
r.rolname
    from pg_catalog.pg_roles as r
   where r.rolname in ('anon', 'authenticated')
),

unique_keys as (
  select
i.indexrelid,
i.indrelid
    from pg_catalog.pg_index as i
    inner join pg_catalog.pg_class as c on i.indrelid = c.oid
   where i.indisunique
     and c.relkind in ('r', 'p')
     and c.relpersistence <> 't'
     and c.relnamespace not in ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
),

key_columns as (
  select
k.indexrelid,
k.indrelid,
a.attnum,
a.attname
    from unique_keys as k
    inner join pg_catalog.pg_index as i on k.indexrelid = i.indexrelid
    inner join pg_catalog.pg_attribute as a
      on k.indrelid = a.attrelid and a.attnum = any(i.indkey::int2[]) and a.attnum > 0
  union
  -- Columns inside index expressions (lower(owner)) are recorded as dependencies.
  select
k.indexrelid,
k.indrelid,
a.attnum,
a.attname
    from unique_keys as k
    inner join pg_catalog.pg_depend as d
      on d.classid = 'pg_catalog.pg_class'::regclass and k.indexrelid = d.objid
     and d.refclassid = 'pg_catalog.pg_class'::regclass and k.indrelid = d.refobjid
     and d.refobjsubid > 0
    inner join pg_catalog.pg_attribute as a on k.indrelid = a.attrelid and d.refobjsubid = a.attnum
),

caller_bound as (
  -- tgtype bits: 1 row, 2 before, 4 insert.
  select
t.tgrelid,
pg_catalog.split_part(arg, ':', 1) as attname
    from pg_catalog.pg_trigger as t
    cross join lateral pg_catalog.unnest(
      pg_catalog.string_to_array(
        pg_catalog.rtrim(pg_catalog.encode(t.tgargs, 'escape'), '\000'), '\000'
      )
    ) as arg
   where t.tgfoid = pg_catalog.to_regprocedure('private.require_caller_key()')
     and t.tgtype::integer & 7 = 7
     and t.tgenabled <> 'D'
)

select
k.indrelid::regclass as table_name,
       k.indexrelid::regclass as key_name,
       r.rolname::text collate "default" as role_name,  -- noqa: RF02
       pg_catalog.string_agg(kc.attname::text, ', ' order by kc.attnum) collate "default" as columns  -- noqa: RF02
  from unique_keys as k
  cross join api_roles as r
  inner join key_columns as kc on k.indexrelid = kc.indexrelid
 group by r.rolname, r.role_oid, k.indrelid, k.indexrelid
having bool_and(pg_catalog.has_column_privilege(r.role_oid, k.indrelid, kc.attnum, 'INSERT'))
   and not bool_or(exists (
     select from caller_bound as b where b.tgrelid = k.indrelid and b.attname = kc.attname
   ));

create temporary view api_table_lock_privileges as
select
c.oid::regclass as table_name,
p.privilege::text,
r.rolname::text collate "default" as role_name  -- noqa: RF02
  from pg_catalog.pg_class as c
  cross join (values ('anon'), ('authenticated')) as r (rolname)
  cross join (values ('UPDATE'), ('DELETE'), ('TRUNCATE'), ('MAINTAIN')) as p (privilege)
 where c.relkind in ('r', 'p', 'v', 'm', 'f')
   and c.relpersistence <> 't'
   and c.relnamespace not in ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
   and pg_catalog.has_schema_privilege(r.rolname, c.relnamespace, 'USAGE')
   and pg_catalog.has_table_privilege(r.rolname, c.oid, p.privilege);

-- The schema as migrated.
select ok(
  (select count(*) from pg_catalog.pg_index as i
    inner join pg_catalog.pg_class as c on i.indrelid = c.oid
   where i.indisunique and c.relnamespace = 'public'::regnamespace) >= 10,
  'the key guard has unique keys to inspect in public'
);
select is_empty(
  'select role_name, table_name, key_name, columns from api_proposable_keys',
  'no API role can propose every column of a unique key'
);
select is_empty(
  'select role_name, table_name, privilege from api_table_lock_privileges',
  'no API role holds table-level UPDATE, DELETE, TRUNCATE or MAINTAIN'
);

-- Each guard catches what it is meant to catch (rolled back with the file).
grant insert (id) on table public.sessions to authenticated;
select results_eq(
  'select role_name, table_name::text, columns from api_proposable_keys',
  $$values ('authenticated', 'sessions', 'id')$$,
  'an INSERT grant on sessions.id is named'
);
revoke insert (id) on table public.sessions from authenticated;
drop trigger user_preferences_key_belongs_to_caller on public.user_preferences;
select results_eq(
  'select role_name, table_name::text, columns from api_proposable_keys',
  $$values ('authenticated', 'user_preferences', 'user_id')$$,
  'a user key no trigger binds to the caller is named'
);
alter table public.session_shares disable trigger session_shares_key_belongs_to_caller;
select results_eq(
  'select role_name, table_name::text, columns from api_proposable_keys order by 2',
  $$values ('authenticated', 'session_shares', 'session_id, user_id'),
           ('authenticated', 'user_preferences', 'user_id')$$,
  'a disabled binding trigger does not count'
);
grant delete on table public.comments to authenticated;
select results_eq(
  'select role_name, table_name::text, privilege from api_table_lock_privileges',
  $$values ('authenticated', 'comments', 'DELETE')$$,
  'a table-level DELETE grant is named'
);
revoke delete on table public.comments from authenticated;
-- Spelled through EXECUTE: the SQL linter's grammar has no MAINTAIN privilege yet.
do $$
begin
  execute 'grant maintain on table public.sessions to anon';
end
$$;
select results_eq(
  'select role_name, table_name::text, privilege from api_table_lock_privileges',
  $$values ('anon', 'sessions', 'MAINTAIN')$$,
  'a table-level MAINTAIN grant is named'
);

select * from finish();
rollback;
