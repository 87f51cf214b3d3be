#!/bin/sh
# Median server-side time of one IR update of a seeded session (a ~6 KiB IR, each update a new
# value), as service_role and as the owner (authenticated), N updates each, rolled back.
# Usage: bench/column_limits_update.sh [database-url] [N]   (prints role and median µs)
set -eu
URL=${1:-postgresql://postgres:postgres@127.0.0.1:54408/postgres}
N=${2:-1500}
for ROLE in service_role authenticated; do
  psql "$URL" -q -X -v ON_ERROR_STOP=1 <<SQL 2>&1 | sed -n 's/.*NOTICE:  //p'
begin;
select set_config('role', '$ROLE', true),
       set_config('request.jwt.claims',
                  '{"sub": "a0da0da0-0000-4000-8000-000000000001", "role": "$ROLE"}', true)
\g /dev/null
do \$\$
declare
  irs jsonb[];
  t0 timestamptz;
  ds float8[] := '{}';
  base jsonb := (select jsonb_build_object('nodes', jsonb_agg(jsonb_build_object(
                   'id', g, 'kind', 'stmt', 'text', repeat('x', 40), 'children', jsonb_build_array(g, g + 1))))
                  from generate_series(1, 60) as g);
begin
  select array_agg(jsonb_set(base, '{n}', to_jsonb(i))) into irs from generate_series(1, $N) as i;
  for i in 1..$N loop
    t0 := clock_timestamp();
    update public.sessions set current_ir = irs[i] where id = '5e550000-0000-4000-8000-00000000a001';
    ds := ds || extract(epoch from clock_timestamp() - t0)::float8 * 1e6;
  end loop;
  raise notice '$ROLE median % us (n=%, ir % bytes)',
    round((select percentile_cont(0.5) within group (order by d) from unnest(ds) as d)::numeric, 1),
    $N, octet_length(irs[1]::text);
end
\$\$;
rollback;
SQL
done
