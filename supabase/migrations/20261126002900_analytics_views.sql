-- Why: the questions lift-sys asks of its events: how often do sessions succeed (finalized
-- rather than abandoned), and how long do steps take, by event type and by prompt type, per
-- user. These views answer them from public.analytics_events.
--
-- They are security_invoker: a view otherwise runs with its owner's rights and would read past
-- RLS. So a signed-in user sees rows about themselves only; service_role sees every user's.
--
--   analytics_success_rates            user_id, prompt_type, finalized, abandoned, success_rate
--   analytics_latency_by_event_type    user_id, event_type, events, p50_ms … p99_ms, max_ms
--   analytics_latency_by_prompt_type   user_id, prompt_type, events, p50_ms … p99_ms, max_ms
--
-- prompt_type is event_data.prompt_type, 'unspecified' when absent. An outcome is an event of
-- type session_finalized or session_abandoned (one per session end); success_rate is
-- finalized / (finalized + abandoned). Latency percentiles are continuous (interpolated) over the
-- events that carry a latency_ms.

-- On a live project, wait briefly for locks and then fail, rather than queue behind traffic and
-- block it; the file rolls back whole and can simply be re-run. Session-level on purpose: the CLI
-- pipelines a file without a transaction block, where SET LOCAL does nothing, and both the CLI
-- and lift-db run RESET ALL between files.
set lock_timeout = '5s';
set statement_timeout = '60s';

create view public.analytics_success_rates
with (security_invoker = true)
as
select
  e.user_id,
  coalesce(e.event_data ->> 'prompt_type', 'unspecified') as prompt_type,
  count(*) filter (where e.event_type = 'session_finalized') as finalized,
  count(*) filter (where e.event_type = 'session_abandoned') as abandoned,
  round(
    (count(*) filter (where e.event_type = 'session_finalized'))::numeric / count(*), 4
  ) as success_rate
from public.analytics_events as e
where e.event_type in ('session_finalized', 'session_abandoned')
group by e.user_id, coalesce(e.event_data ->> 'prompt_type', 'unspecified');

comment on view public.analytics_success_rates is
  'Per user and prompt type: sessions finalized vs abandoned, and the share finalized.';

create view public.analytics_latency_by_event_type
with (security_invoker = true)
as
select
  e.user_id,
  e.event_type,
  count(*) as events,
  percentile_cont(0.5) within group (order by e.latency_ms) as p50_ms,
  percentile_cont(0.9) within group (order by e.latency_ms) as p90_ms,
  percentile_cont(0.95) within group (order by e.latency_ms) as p95_ms,
  percentile_cont(0.99) within group (order by e.latency_ms) as p99_ms,
  max(e.latency_ms) as max_ms
from public.analytics_events as e
where e.latency_ms is not null
group by e.user_id, e.event_type;

comment on view public.analytics_latency_by_event_type is
  'Per user and event type: latency percentiles (ms) over the events that carry a latency.';

create view public.analytics_latency_by_prompt_type
with (security_invoker = true)
as
select
  e.user_id,
  coalesce(e.event_data ->> 'prompt_type', 'unspecified') as prompt_type,
  count(*) as events,
  percentile_cont(0.5) within group (order by e.latency_ms) as p50_ms,
  percentile_cont(0.9) within group (order by e.latency_ms) as p90_ms,
  percentile_cont(0.95) within group (order by e.latency_ms) as p95_ms,
  percentile_cont(0.99) within group (order by e.latency_ms) as p99_ms,
  max(e.latency_ms) as max_ms
from public.analytics_events as e
where e.latency_ms is not null
group by e.user_id, coalesce(e.event_data ->> 'prompt_type', 'unspecified');

comment on view public.analytics_latency_by_prompt_type is
  'Per user and prompt type: latency percentiles (ms) over the events that carry a latency.';

-- API access: readable by signed-in users (RLS of the events decides which rows) and
-- service_role; anon gets nothing.
revoke all on table public.analytics_success_rates from anon, authenticated, service_role;
revoke all on table public.analytics_latency_by_event_type from anon, authenticated, service_role;
revoke all on table public.analytics_latency_by_prompt_type from anon, authenticated, service_role;
grant select on table public.analytics_success_rates to authenticated, service_role;
grant select on table public.analytics_latency_by_event_type to authenticated, service_role;
grant select on table public.analytics_latency_by_prompt_type to authenticated, service_role;
