-- Why: monthly partitions of public.analytics_events do not make themselves. This migration
-- adds the maintenance, in plain SQL (no pg_partman: migrations run as the non-superuser
-- `postgres`, and partitions are ordinary DDL it owns). It creates no partition itself: which
-- months exist would then depend on the day the migration ran, and until the first maintenance
-- run the default partition takes every event.
--
--   private.create_analytics_events_partition(month date) → bigint
--     Creates the partition of the month containing `month` (UTC calendar months) and returns how
--     many rows it moved there from the default partition. Postgres refuses to create a
--     partition whose range holds rows of the default partition, so the partition is built
--     detached, the month's rows move into it (DELETE … RETURNING feeding INSERT, in one
--     statement), and then it is attached; everything in one transaction, while writers to
--     public.analytics_events wait (reads go on), so a row is moved or left where it was, never
--     lost, doubled or refused. Errors: 42P07 when the month already has its partition.
--
--   private.maintain_analytics_events_partitions(months_ahead, retention_months, expired_action)
--       → table (action, partition_name, row_count)
--     1. gives every month that has rows in the default partition its own partition;
--     2. creates the partitions of this month and the next `months_ahead` months;
--     3. with retention_months set, detaches (expired_action 'detach': the table stays in schema
--        partitions, readable by the owner, for archiving) or drops ('drop') every partition
--        that ends on or before the first day of the month `retention_months` months before the
--        current one. retention_months 0 keeps this month and later; 3 keeps three full months
--        before this one as well. The default partition is never dropped.
--     Reports one row per partition created (row_count: rows moved from the default partition),
--     detached or dropped (row_count: null).
--
-- Run it daily, as the table owner; on Supabase with pg_cron:
--   select cron.schedule('analytics-partitions', '17 3 * * *',
--     $$select private.maintain_analytics_events_partitions(3, 13, 'drop')$$);
-- The functions take a 5 s lock timeout: behind a long-running query they fail and are retried
-- by the next run instead of queueing every insert behind them.

-- On a live project, wait briefly for locks and then fail, rather than queue behind traffic and
-- block it; the file rolls back whole and can simply be re-run. Session-level on purpose: the CLI
-- pipelines a file without a transaction block, where SET LOCAL does nothing, and both the CLI
-- and lift-db run RESET ALL between files.
set lock_timeout = '5s';
set statement_timeout = '60s';

-- Attached partitions of public.analytics_events with their ranges, read from the catalog (the
-- bound expression prints its timestamps in the session's time zone, and casts back from it).
create function private.analytics_events_partitions()
returns table (partition_name text, range_from timestamptz, range_to timestamptz)
language sql
stable
set search_path = ''
as $$
  select format('%I.%I', n.nspname, c.relname),
         b.bounds[1]::timestamptz,
         b.bounds[2]::timestamptz
    from pg_catalog.pg_inherits as i
    join pg_catalog.pg_class as c on c.oid = i.inhrelid
    join pg_catalog.pg_namespace as n on n.oid = c.relnamespace
    cross join lateral (
      select regexp_match(pg_catalog.pg_get_expr(c.relpartbound, c.oid),
                          '^FOR VALUES FROM \(''([^'']+)''\) TO \(''([^'']+)''\)$') as bounds
    ) as b
   where i.inhparent = 'public.analytics_events'::regclass
     and b.bounds is not null
$$;

revoke execute on function private.analytics_events_partitions() from public;

create function private.create_analytics_events_partition(month date) returns bigint
language plpgsql
set search_path = ''
set lock_timeout = '5s'
as $$
declare
  month_start date := date_trunc('month', create_analytics_events_partition.month::timestamp)::date;
  lower_bound timestamptz;
  upper_bound timestamptz;
  partition_name text;
  column_list text;
  moved bigint;
begin
  if month_start is null then
    raise exception 'month must not be null' using errcode = '22004';
  end if;
  lower_bound := month_start::timestamp at time zone 'UTC';
  upper_bound := (month_start + interval '1 month')::timestamp at time zone 'UTC';
  partition_name := format('analytics_events_p%s', to_char(month_start, 'YYYY_MM'));

  if exists (
    select from private.analytics_events_partitions() as p
     where p.range_from = lower_bound
  ) then
    raise exception 'analytics_events already has a partition for %',
      to_char(month_start, 'YYYY-MM')
      using errcode = '42P07';
  end if;
  if to_regclass(format('partitions.%I', partition_name)) is not null then
    raise exception 'partitions.% exists but is not attached (a detached archive?)', partition_name
      using errcode = '42P07', hint = 'rename or drop the detached table first';
  end if;

  -- No insert may run meanwhile. One that routed its row to the default partition before the
  -- attach and wrote it after would fail the default partition's new constraint, so writers
  -- wait at the parent, before routing, and then route to the new partition. Reads go on until
  -- the attach, which holds the default partition for a moment.
  lock table public.analytics_events in share row exclusive mode;

  execute format(
    'create table partitions.%I (like public.analytics_events including defaults '
    'including constraints including storage)', partition_name);
  execute format('alter table partitions.%I enable row level security', partition_name);
  execute format('revoke all on table partitions.%I from anon, authenticated, service_role',
                 partition_name);

  select string_agg(format('%I', a.attname), ', ' order by a.attnum) into column_list
    from pg_catalog.pg_attribute as a
   where a.attrelid = 'public.analytics_events'::regclass and a.attnum > 0
     and not a.attisdropped;
  execute format(
    'with moved as (delete from partitions.analytics_events_default as d'
    ' where d.created_at >= $1 and d.created_at < $2 returning %1$s)'
    ' insert into partitions.%2$I (%1$s) select %1$s from moved',
    column_list, partition_name)
    using lower_bound, upper_bound;
  get diagnostics moved = row_count;

  -- Attaching creates the partition's indexes, foreign keys and triggers from the parent's.
  execute format(
    'alter table public.analytics_events attach partition partitions.%I '
    'for values from (%L) to (%L)', partition_name, lower_bound, upper_bound);
  return moved;
end
$$;

revoke execute on function private.create_analytics_events_partition(date) from public;

create function private.maintain_analytics_events_partitions(
  months_ahead integer default 3,
  retention_months integer default null,
  expired_action text default 'detach'
) returns table (action text, partition_name text, row_count bigint)
language plpgsql
set search_path = ''
set lock_timeout = '5s'
as $$
declare
  this_month date := date_trunc('month', now() at time zone 'UTC')::date;
  cutoff timestamptz;
  month date;
  expired record;
begin
  if months_ahead is null or months_ahead not between 0 and 120 then
    raise exception 'months_ahead must be between 0 and 120, not %',
      coalesce(months_ahead::text, 'null')
      using errcode = '22023';
  end if;
  if retention_months < 0 then
    raise exception 'retention_months must be 0 or more (or null: keep everything), not %',
      retention_months
      using errcode = '22023';
  end if;
  if expired_action is null or expired_action not in ('detach', 'drop') then
    raise exception 'expired_action must be detach or drop, not %',
      coalesce(expired_action, 'null')
      using errcode = '22023';
  end if;

  -- 1. Months stranded in the default partition.
  for month in
    select distinct date_trunc('month', d.created_at at time zone 'UTC')::date
      from partitions.analytics_events_default as d
     order by 1
  loop
    action := 'created';
    partition_name := format('partitions.analytics_events_p%s', to_char(month, 'YYYY_MM'));
    row_count := private.create_analytics_events_partition(month);
    return next;
  end loop;

  -- 2. This month and the months ahead.
  for month in
    select (this_month + make_interval(months => m))::date
      from generate_series(0, months_ahead) as m
  loop
    if not exists (
      select from private.analytics_events_partitions() as p
       where p.range_from = month::timestamp at time zone 'UTC'
    ) then
      action := 'created';
      partition_name := format('partitions.analytics_events_p%s', to_char(month, 'YYYY_MM'));
      row_count := private.create_analytics_events_partition(month);
      return next;
    end if;
  end loop;

  -- 3. Retention.
  if retention_months is null then
    return;
  end if;
  cutoff := (this_month - make_interval(months => retention_months))::timestamp at time zone 'UTC';
  for expired in
    select p.partition_name
      from private.analytics_events_partitions() as p
     where p.range_to <= cutoff
     order by p.range_from
  loop
    partition_name := expired.partition_name;
    row_count := null;
    if expired_action = 'drop' then
      execute format('drop table %s', expired.partition_name);
      action := 'dropped';
    else
      execute format('alter table public.analytics_events detach partition %s',
                     expired.partition_name);
      action := 'detached';
    end if;
    return next;
  end loop;
end
$$;

revoke execute on function private.maintain_analytics_events_partitions(integer, integer, text)
  from public;
