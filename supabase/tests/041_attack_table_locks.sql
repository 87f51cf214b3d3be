-- LOCK TABLE as an attacker would: for every table, view and partition anon or authenticated can
-- name (every schema they have USAGE on, system catalogs aside), every lock mode that would stop
-- other users' writes (SHARE UPDATE EXCLUSIVE and above conflict with ROW EXCLUSIVE or with
-- VACUUM) or reads (ACCESS EXCLUSIVE) is refused with 42501. ROW SHARE and ROW EXCLUSIVE are
-- refused too on every table here. What remains is ACCESS SHARE, which SELECT grants and which
-- blocks only DDL (ACCESS EXCLUSIVE); migrations wait for it at most lock_timeout.
-- One assertion per relation and role, so a failure names the table and the modes it granted.
begin;

-- The outcome of one LOCK attempt, released at once (the block's subtransaction rolls back).
create function pg_temp.lock_outcome(relation regclass, lock_mode text) returns text
language plpgsql
as $$
begin
  begin
    execute format('lock table %s in %s mode nowait', relation, lock_mode);
    raise exception using errcode = 'P0001', message = 'granted';
  exception
    when others then
      return case when sqlerrm = 'granted' then 'granted' else sqlstate end;
  end;
end
$$;

create temporary table lock_targets on commit drop as
select
r.rolname::text as role_name,
c.oid::regclass as relation
  from pg_catalog.pg_class as c
  cross join (values ('anon'), ('authenticated')) as r (rolname)
 where c.relkind in ('r', 'p', 'v', 'm', 'f')
   and c.relpersistence <> 't'
   and c.relnamespace not in ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
   and pg_catalog.has_schema_privilege(r.rolname, c.relnamespace, 'USAGE');
grant select on lock_targets to anon, authenticated;

create temporary table lock_modes (lock_mode text) on commit drop;
insert into lock_modes values
  ('row share'), ('row exclusive'), ('share update exclusive'), ('share'),
  ('share row exclusive'), ('exclusive'), ('access exclusive');
grant select on lock_modes to anon, authenticated;

select plan((select count(*)::integer + 2 from lock_targets));

select ok(
  (select count(*) from lock_targets where role_name = 'authenticated'
      and relation in ('public.sessions'::regclass, 'public.session_shares'::regclass)) = 2,
  'the attack reaches the tables the API exposes'
);

select tests.create_supabase_user('mallory');

select tests.authenticate_as_anon();
select is(
  (select pg_catalog.array_agg(m.lock_mode order by m.lock_mode)
     from lock_modes as m
    where pg_temp.lock_outcome(t.relation, m.lock_mode) <> '42501'),
  null::text[],
  format('anon cannot lock %s in any mode above ACCESS SHARE', t.relation)
)
  from lock_targets as t
 where t.role_name = 'anon'
 order by t.relation::text;

select tests.authenticate_as('mallory');
select is(
  (select pg_catalog.array_agg(m.lock_mode order by m.lock_mode)
     from lock_modes as m
    where pg_temp.lock_outcome(t.relation, m.lock_mode) <> '42501'),
  null::text[],
  format('authenticated cannot lock %s in any mode above ACCESS SHARE', t.relation)
)
  from lock_targets as t
 where t.role_name = 'authenticated'
 order by t.relation::text;

-- The probe itself can tell a granted lock from a refused one.
select tests.clear_authentication();
select is(pg_temp.lock_outcome('public.sessions', 'access exclusive'), 'granted',
          'the table owner is granted the lock the API roles are refused');

select * from finish();
rollback;
