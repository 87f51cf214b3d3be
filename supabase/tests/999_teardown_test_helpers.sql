-- Runs last (pg_prove and `supabase test db` run the files in name order), as the setup files
-- 000_setup_identity.sql to 002_setup_catalog_guards.sql run first: it drops the helpers they
-- committed, several of them SECURITY DEFINER and callable by anon and authenticated while the
-- run lasts. A run against a shared database must leave nothing in schema `tests` for anyone to
-- call.
begin;
select plan(1);

drop schema tests cascade;

select hasnt_schema('tests', 'the test helpers are dropped at the end of the run');

select * from finish();
commit;
