-- Idempotency keys of sessions: a key is per user. The same key names one session of each user
-- who chose it; a second create of a user with the key makes nothing and finds the first;
-- another user's key neither collides with the caller's nor reveals that it exists, even by the
-- ON CONFLICT and unique-violation routes; nobody rewrites a key; anon gets nothing; a key is
-- capped like every API-writable column.
begin;
select plan(16);

select tests.create_supabase_user('alice');
select tests.create_supabase_user('bob');

select tests.authenticate_as('alice');
select lives_ok(
  $$insert into public.sessions (prompt, idempotency_key) values ('alice first', 'k-1')$$,
  'Alice creates a session with a key'
);
select is_empty(
  $$insert into public.sessions (prompt, idempotency_key) values ('alice again', 'k-1')
    on conflict (user_id, idempotency_key) where idempotency_key is not null do nothing
    returning id$$,
  'a second create of Alice with the same key inserts nothing'
);
select results_eq(
  $$select prompt from public.sessions where idempotency_key = 'k-1'$$,
  array['alice first'],
  'the key finds Alice''s first session, once'
);
select throws_ok(
  $$insert into public.sessions (prompt, idempotency_key) values ('alice plain', 'k-1')$$,
  '23505', null, 'without ON CONFLICT the reused key is a unique violation of Alice''s own row'
);
select throws_ok(
  $$update public.sessions set idempotency_key = 'k-2' where idempotency_key = 'k-1'$$,
  '42501', 'permission denied for table sessions', 'Alice cannot rewrite a key'
);
select throws_ok(
  $$insert into public.sessions (prompt, idempotency_key) values ('long', repeat('k', 201))$$,
  '54000', null, 'a key over 200 bytes is refused'
);

-- Bob chooses Alice's key: his own session, no collision, nothing of Alice's seen or touched.
select tests.authenticate_as('bob');
select results_eq(
  $$insert into public.sessions (prompt, idempotency_key) values ('bob first', 'k-1')
    on conflict (user_id, idempotency_key) where idempotency_key is not null do nothing
    returning user_id$$,
  $$select tests.get_supabase_uid('bob')$$,
  'Bob''s create with Alice''s key makes Bob''s own session'
);
select results_eq(
  $$select prompt from public.sessions where idempotency_key = 'k-1'$$,
  array['bob first'],
  'the key finds only Bob''s session for Bob'
);
select throws_ok(
  $$insert into public.sessions (user_id, prompt, idempotency_key)
    values (tests.get_supabase_uid('alice'), 'probe', 'k-1')
    on conflict (user_id, idempotency_key) where idempotency_key is not null do nothing$$,
  '42501', 'new row violates row-level security policy for table "sessions"',
  'Bob proposing Alice''s (user, key) pair is refused before the conflict check'
);
select throws_ok(
  $$insert into public.sessions (user_id, prompt, idempotency_key)
    values (tests.get_supabase_uid('alice'), 'probe', 'no-such-key')
    on conflict (user_id, idempotency_key) where idempotency_key is not null do nothing$$,
  '42501', 'new row violates row-level security policy for table "sessions"',
  'and refused alike for a key Alice never used: the refusal reveals nothing'
);
select throws_ok(
  $$insert into public.sessions (user_id, prompt, idempotency_key)
    values (tests.get_supabase_uid('alice'), 'probe', 'k-1')
    on conflict (user_id, idempotency_key) where idempotency_key is not null
    do update set prompt = 'stolen'$$,
  '42501', 'new row violates row-level security policy for table "sessions"',
  'nor can Bob reach Alice''s row through ON CONFLICT DO UPDATE'
);

-- anon
select tests.authenticate_as_anon();
select throws_ok(
  $$insert into public.sessions (prompt, idempotency_key) values ('anon', 'k-1')$$,
  '42501', 'permission denied for table sessions', 'anon cannot create with a key'
);

-- service_role sees each user's key on that user's session, and may create for a user with a
-- key (the same per-user rule applies).
select tests.authenticate_as_service_role();
select results_eq(
  $$select u.identifier, s.prompt
      from public.sessions as s
     cross join lateral (
       select case s.user_id when tests.get_supabase_uid('alice') then 'alice' else 'bob' end
     ) as u (identifier)
     where s.idempotency_key = 'k-1'
     order by 1$$,
  $$values ('alice', 'alice first'), ('bob', 'bob first')$$,
  'one session per user and key'
);
select is_empty(
  $$insert into public.sessions (user_id, prompt, idempotency_key)
    values (tests.get_supabase_uid('alice'), 'service again', 'k-1')
    on conflict (user_id, idempotency_key) where idempotency_key is not null do nothing
    returning id$$,
  'service_role creating for Alice with her key finds her session'
);
select results_eq(
  $$select prompt from public.sessions where prompt in ('alice first', 'alice again',
    'service again', 'probe', 'stolen', 'anon') order by prompt$$,
  array['alice first'],
  'no retry, probe or attack wrote a row or changed Alice''s'
);
select lives_ok(
  $$insert into public.sessions (user_id, prompt) values (tests.get_supabase_uid('alice'), 'no key'),
    (tests.get_supabase_uid('alice'), 'no key either')$$,
  'sessions without a key never collide'
);

select * from finish();
rollback;
