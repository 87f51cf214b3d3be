-- Why: private.check_column_limits() (20261130100100) cost about 65-70 µs of a 340 µs IR update,
-- for every writer: per row it joined the catalog with private.column_limits, copied the whole
-- NEW and OLD rows with to_jsonb and compared each capped column as JSON. `make bench`'s "update
-- the IR" went from 0.433 ms to 0.587 ms. Now the function is generated from
-- private.column_limits: static code with the caps inlined, one branch per capped table, each
-- capped column read as new.<column> and, on UPDATE, checked only when it is distinct from
-- old.<column>. Nothing is copied and no table is read when a row is written.
--
-- The rules stay the same: the same caps, SQLSTATE 54000 and messages (column, size, cap); an
-- UPDATE checks only the columns it changes; every writer, service_role included; a partition is
-- checked with its partitioned table's caps (its root found with pg_partition_root, compared with
-- each capped partitioned table; partitions created later need no regeneration). The triggers
-- and the function's name do not change, so the catalog guard
-- tests.unlimited_api_writable_columns() still applies.
--
-- An operator still changes a cap with one UPDATE (or INSERT, DELETE) of private.column_limits
-- and no migration: a statement-level trigger on that table regenerates the function in the same
-- transaction, so the next write sees the new caps (and a rolled-back change rolls the function
-- back too). It runs as the owner (SECURITY DEFINER), who alone may replace the function; no API
-- role may write private.column_limits (20261130100100 revoked everything), so no API role can
-- reach the generator. Concurrent changes of the caps are serialised by a transaction-level
-- advisory lock, so the last one to commit has generated from every committed cap.
--
-- The generated code names the capped columns, so a migration that adds, renames or drops a
-- capped column (or table) runs `select private.compile_column_limits();` afterwards; the pgTAP
-- catalog guard (supabase/tests/053) fails while the installed function differs from what the
-- caps and the catalog generate. A cap on a column that does not exist is ignored, as before.
-- The function no longer reads anything the caller cannot, so it is no longer SECURITY DEFINER.

-- On a live project, wait briefly for locks and then fail, rather than queue behind traffic.
set lock_timeout = '5s';
set statement_timeout = '60s';

-- The source of private.check_column_limits() for the current caps and catalog. Tables are
-- tested most written first (sessions), then by name. No branch names a partition: its partition
-- root leads it to its table's branch (so partitions created later need no regeneration, and
-- the source depends only on the caps and the capped tables and columns).
create function private.column_limits_function_source() returns text
language sql
stable
set search_path = pg_catalog, pg_temp
as $$
  with caps as (
    select l.table_schema, l.table_name, l.column_name, l.max_bytes, l.max_depth, a.attnum,
           a.atttypid = 'pg_catalog.jsonb'::pg_catalog.regtype as is_jsonb,
           a.atttypid = 'pg_catalog.json'::pg_catalog.regtype as is_json,
           t.typcategory = 'S' as is_string, c.relkind = 'p' as is_partitioned,
           pg_catalog.format('%s.%s.%s', l.table_schema, l.table_name, l.column_name) as label
      from private.column_limits as l
      join pg_catalog.pg_namespace as n on n.nspname = l.table_schema
      join pg_catalog.pg_class as c
        on c.relnamespace = n.oid and c.relname = l.table_name
       and c.relkind in ('r', 'p') and not c.relispartition
      join pg_catalog.pg_attribute as a
        on a.attrelid = c.oid and a.attname = l.column_name and a.attnum > 0
       and not a.attisdropped
      join pg_catalog.pg_type as t on t.oid = a.atttypid
  ),
  checks as (
    select cp.table_schema, cp.table_name, pg_catalog.bool_or(cp.is_partitioned) as is_partitioned,
           pg_catalog.string_agg(
             pg_catalog.format(
               E'      if tg_op = ''INSERT'' or %1$s is distinct from %2$s then\n'
               || E'        size := pg_catalog.octet_length(%3$s);\n'
               || E'        if size > %4$s then\n'
               || E'          raise exception ''%5$s is %% bytes, over its limit of %4$s bytes'', size\n'
               || E'            using errcode = ''54000'',\n'
               || E'                  detail = pg_catalog.format(%6$L, size),\n'
               || '                  hint = ''write a smaller value; the limits are in '
               || E'private.column_limits'';\n'
               || E'        end if;\n%7$s'
               || E'      end if;\n',
               -- 1, 2: the value compared as the old trigger compared it (as JSON)
               case when cp.is_jsonb or cp.is_string
                    then pg_catalog.format('new.%I', cp.column_name)
                    else pg_catalog.format('pg_catalog.to_jsonb(new.%I)', cp.column_name) end,
               case when cp.is_jsonb or cp.is_string
                    then pg_catalog.format('old.%I', cp.column_name)
                    else pg_catalog.format('pg_catalog.to_jsonb(old.%I)', cp.column_name) end,
               -- 3: its size: JSON's text form, text's own bytes, anything else its JSON text
               case when cp.is_jsonb
                      then pg_catalog.format('new.%I::pg_catalog.text', cp.column_name)
                    when cp.is_json
                      then pg_catalog.format('new.%I::pg_catalog.jsonb::pg_catalog.text',
                                             cp.column_name)
                    when cp.is_string
                      then pg_catalog.format('new.%I::pg_catalog.text', cp.column_name)
                    else pg_catalog.format(
                      'pg_catalog.to_jsonb(new.%I) operator(pg_catalog.#>>) '
                      || '''{}''::pg_catalog.text[]', cp.column_name) end,
               cp.max_bytes,
               pg_catalog.replace(pg_catalog.replace(cp.label, '''', ''''''), '%', '%%'),
               pg_catalog.format('column=%s size=%%s limit=%s',
                                 pg_catalog.replace(cp.label, '%', '%%'), cp.max_bytes),
               -- 7: the depth check
               case when cp.max_depth is null then ''
                    else pg_catalog.format(
                      E'        if pg_catalog.jsonb_path_exists(%1$s, %2$L::pg_catalog.jsonpath) then\n'
                      || E'          raise exception ''%3$s is nested deeper than %4$s levels''\n'
                      || E'            using errcode = ''54000'',\n'
                      || E'                  detail = %5$L,\n'
                      || '                  hint = ''flatten the value; the limits are in '
                      || E'private.column_limits'';\n'
                      || E'        end if;\n',
                      case when cp.is_jsonb then pg_catalog.format('new.%I', cp.column_name)
                           when cp.is_json
                             then pg_catalog.format('new.%I::pg_catalog.jsonb', cp.column_name)
                           else pg_catalog.format('pg_catalog.to_jsonb(new.%I)',
                                                  cp.column_name) end,
                      pg_catalog.format('strict $.**{%s}', cp.max_depth + 1),
                      pg_catalog.replace(pg_catalog.replace(cp.label, '''', ''''''), '%', '%%'),
                      cp.max_depth,
                      pg_catalog.format('column=%s depth_limit=%s', cp.label, cp.max_depth))
               end),
             '' order by cp.attnum) as body
      from caps as cp
     group by cp.table_schema, cp.table_name
  ),
  branches as (
    select ch.table_schema, ch.table_name, ch.is_partitioned,
           pg_catalog.format(
             E'    if t = %L and s = %L then\n%s      return new;\n    end if;\n',
             ch.table_name, ch.table_schema,
             ch.body) as code
      from checks as ch
  )
  select pg_catalog.concat(
    E'\ndeclare\n'
    || E'  s pg_catalog.name := tg_table_schema;\n'
    || E'  t pg_catalog.name := tg_table_name;\n'
    || E'  size pg_catalog.int8;\n'
    || E'  root pg_catalog.regclass;\n'
    || E'begin\n'
    || E'  -- Generated by private.compile_column_limits() from private.column_limits: do not edit.\n'
    || E'  loop\n',
    (select pg_catalog.string_agg(b.code, '' order by b.table_name <> 'sessions', b.table_schema,
                                  b.table_name)
       from branches as b),
    E'    -- A relation no branch names: a partition is checked with its root''s caps;\n'
    || E'    -- anything else has none.\n'
    || E'    exit when s is distinct from tg_table_schema or t is distinct from tg_table_name;\n'
    || E'    root := pg_catalog.pg_partition_root(tg_relid::pg_catalog.regclass);\n',
    (select pg_catalog.string_agg(
              pg_catalog.format(
                E'    if root operator(pg_catalog.=) %L::pg_catalog.regclass then\n'
                || E'      s := %L;\n      t := %L;\n      continue;\n    end if;\n',
                pg_catalog.format('%I.%I', b.table_schema, b.table_name),
                b.table_schema, b.table_name),
              '' order by b.table_schema, b.table_name)
       from branches as b
      where b.is_partitioned),
    E'    exit;\n'
    || E'  end loop;\n'
    || E'  return new;\n'
    || E'end\n')
$$;

revoke execute on function private.column_limits_function_source() from public;

-- Replaces private.check_column_limits() with the code the current caps generate. Run by the
-- trigger below, and by a migration that adds, renames or drops a capped column.
create function private.compile_column_limits() returns void
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  -- One generation at a time; the one that waits then reads the caps the other committed.
  perform pg_catalog.pg_advisory_xact_lock(
    'private.column_limits'::pg_catalog.regclass::pg_catalog.oid::pg_catalog.int4, 54000);
  execute pg_catalog.format(
    'create or replace function private.check_column_limits() returns trigger '
    'language plpgsql security invoker set search_path = pg_catalog, pg_temp as %L',
    private.column_limits_function_source());
end
$$;

revoke execute on function private.compile_column_limits() from public;

create function private.column_limits_changed() returns trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  perform private.compile_column_limits();
  return null;
end
$$;

revoke execute on function private.column_limits_changed() from public;

create trigger column_limits_compile
  after insert or update or delete or truncate on private.column_limits
  for each statement execute function private.column_limits_changed();

select private.compile_column_limits();

revoke execute on function private.check_column_limits() from public;
