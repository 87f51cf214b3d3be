"""The platform layer reaches databases made with an older revision of it, and only those."""

from __future__ import annotations

from lift_db.local.platform_layer import ensure_platform_layer, has_outdated_platform_layer
from tests.conftest import ScratchFactory

AUTH_UID = "select proconfig from pg_catalog.pg_proc where oid = 'auth.uid()'::regprocedure"


def test_a_database_with_the_first_revision_gets_the_current_one(
    scratch_db: ScratchFactory,
) -> None:
    target = scratch_db()
    with target.connect(admin=True) as conn:
        # As the first revision left a database: no marker, and auth.uid() with a SET clause,
        # which stops it being inlined and parses its `::uuid` with pg_temp searched first.
        conn.execute("comment on schema extensions is null")
        conn.execute("alter function auth.uid() set search_path = ''")
        assert has_outdated_platform_layer(conn)
        assert ensure_platform_layer(conn)
        assert conn.execute(AUTH_UID).fetchone() == (None,)
        assert not has_outdated_platform_layer(conn)
        assert not ensure_platform_layer(conn)


def test_an_older_marked_revision_is_applied_again(scratch_db: ScratchFactory) -> None:
    target = scratch_db()
    with target.connect(admin=True) as conn:
        conn.execute("comment on schema extensions is 'lift-db platform layer 1'")
        assert ensure_platform_layer(conn)
        row = conn.execute("select obj_description('extensions'::regnamespace)").fetchone()
        assert row is not None
        assert row[0].startswith("lift-db platform layer ")
        assert row[0] != "lift-db platform layer 1"


def test_a_database_that_is_not_ours_is_left_alone(scratch_db: ScratchFactory) -> None:
    """A Supabase database: Auth's own helpers (no SET clause) and no marker of this layer."""
    target = scratch_db()
    with target.connect(admin=True) as conn:
        conn.execute("comment on schema extensions is 'Supabase extensions'")
        assert not has_outdated_platform_layer(conn)
        assert not ensure_platform_layer(conn)
        row = conn.execute("select obj_description('extensions'::regnamespace)").fetchone()
        assert row == ("Supabase extensions",)
