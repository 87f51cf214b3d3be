"""Every SQL statement the Postgres store sends: literal text, values only as parameters.

Keeping them whole here (no string building anywhere) is what guarantees that no value is ever
interpolated into SQL, and lets a reviewer read the store's entire database surface at once.
"""

from __future__ import annotations

from typing import LiteralString

ACT_AS: LiteralString = (
    "select set_config('role', %s, true), set_config('request.jwt.claims', %s, true)"
)

SET_CHANGE_DESCRIPTION: LiteralString = "select set_config('lift.change_description', %s, true)"

CREATE_SESSION: LiteralString = """
insert into public.sessions (id, user_id, prompt, status, current_ir, metadata)
values (coalesce(%s, gen_random_uuid()), coalesce(%s, auth.uid()), %s, %s, %s, %s)
returning id, user_id, prompt, status, current_ir, ir_version, metadata, created_at, updated_at
"""

GET_SESSION: LiteralString = """
select id, user_id, prompt, status, current_ir, ir_version, metadata, created_at, updated_at
  from public.sessions
 where id = %s
"""

LOCK_SESSION: LiteralString = """
select id, user_id, prompt, status, current_ir, ir_version, metadata, created_at, updated_at
  from public.sessions
 where id = %s
   for update
"""

# One UPDATE per call, never two: a second UPDATE of a row the transaction already changed
# re-checks the row's foreign key (FOR KEY SHARE on the owner's profile), and a writer that holds
# the session and then waits for the profile deadlocks with an account deletion, which holds
# the profile and waits for the session. The row lock of LOCK_SESSION makes the version check
# and this write one step, as update_session_ir does.
UPDATE_FIELDS: LiteralString = """
update public.sessions
   set prompt = %s, status = %s, metadata = %s
 where id = %s
returning id, user_id, prompt, status, current_ir, ir_version, metadata, created_at, updated_at
"""

# Assigning current_ir is what writes a version (and its history row, with the description of
# SET_CHANGE_DESCRIPTION).
UPDATE_FIELDS_AND_IR: LiteralString = """
update public.sessions
   set prompt = %s, status = %s, metadata = %s, current_ir = %s
 where id = %s
returning id, user_id, prompt, status, current_ir, ir_version, metadata, created_at, updated_at
"""

# Null parameters switch a filter off; the planner sees their values (unnamed statements are
# planned per execution), so the (user_id, status, created_at) index still serves the query.
# The explicit owner filter spares the policy from running on every row.
LIST_SESSIONS: LiteralString = """
select id, user_id, prompt, status, current_ir, ir_version, metadata, created_at, updated_at
  from public.sessions
 where (%(user_id)s::uuid is null or user_id = %(user_id)s::uuid)
   and (%(status)s::text is null or status = %(status)s::text)
 order by created_at desc, id desc
 limit %(limit)s
"""

DELETE_SESSION: LiteralString = "delete from public.sessions where id = %s returning id"

SESSION_EXISTS: LiteralString = "select 1 from public.sessions where id = %s"

HISTORY: LiteralString = """
select session_id, version, ir_snapshot, change_description, created_at
  from public.session_history
 where session_id = %s
 order by version
"""

ROLLBACK: LiteralString = """
select id, user_id, prompt, status, current_ir, ir_version, metadata, created_at, updated_at
  from public.rollback_session(%s, %s, %s, %s)
"""
