-- What Realtime streams: sessions, history and comments are in publication supabase_realtime,
-- each with the replica identity of its primary key; nothing else is. (That an update really
-- produces a change for the publication is proved by logical decoding, in
-- tests/test_realtime.py.)
begin;
select plan(4);

select bag_eq(
  $$select format('%I.%I', schemaname, tablename) from pg_catalog.pg_publication_tables
     where pubname = 'supabase_realtime'$$,
  array['public.sessions', 'public.session_history', 'public.comments'],
  'sessions, session_history and comments, and nothing else, are published for Realtime'
);
select is_empty(
  $$select c.relname from pg_catalog.pg_class as c
     where c.oid in ('public.sessions'::regclass, 'public.session_history'::regclass,
                     'public.comments'::regclass)
       and c.relreplident <> 'd'$$,
  'each keeps replica identity DEFAULT: old rows carry the primary key only'
);
select ok(
  (select p.pubupdate and p.pubdelete and p.pubinsert from pg_catalog.pg_publication as p
    where p.pubname = 'supabase_realtime'),
  'the publication carries inserts, updates and deletes'
);
select is_empty(
  $$select c.relname from pg_catalog.pg_class as c
     where c.oid in ('public.sessions'::regclass, 'public.session_history'::regclass,
                     'public.comments'::regclass)
       and not exists (select from pg_catalog.pg_index as i
                        where i.indrelid = c.oid and i.indisprimary)$$,
  'each published table has the primary key its replica identity uses'
);

select * from finish();
rollback;
