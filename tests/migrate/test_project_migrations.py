"""The project's own migrations, applied the way separate deployments apply them."""

from __future__ import annotations

from lift_db.local.project import Project
from lift_db.migrate import runner
from tests.conftest import ScratchFactory


def test_each_migration_applies_on_a_fresh_connection(
    scratch_db: ScratchFactory, project: Project
) -> None:
    """`supabase db push` applies only what is pending, in a new connection each time.

    A migration must not depend on state an earlier file left in the database session (a loaded
    extension library, a setting): applied one per connection, every file still succeeds.
    """
    files = runner.discover(project.migrations_dir)
    target = scratch_db()
    for count in range(1, len(files) + 1):
        with target.connect() as conn:
            applied = runner.migrate(conn, files[:count])
        assert [f.filename for f in applied] == [files[count - 1].filename]
