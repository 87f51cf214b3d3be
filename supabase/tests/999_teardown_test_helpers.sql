-- Runs last (pg_prove and `supabase test db` run the files in name order), as
-- 000_setup_test_helpers.sql runs first: it drops the helpers that file committed, several of
-- them SECURITY DEFINER and callable by anon and authenticated while the run lasts. A run against
-- a shared database must leave nothing in schema `tests` for anyone to call.
begin;
select plan(1);

drop schema tests cascade;

select hasnt_schema('tests', 'the test helpers are dropped at the end of the run');

select * from finish();
commit;
