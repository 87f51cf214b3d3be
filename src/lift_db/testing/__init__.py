"""The test harness: pgTAP files run by pytest, the way `supabase test db` runs them.

Public modules:
- `pytest_plugin`: collects `supabase/tests/*.sql` as pytest items (pyproject.toml loads it with
  `-p lift_db.testing.pytest_plugin`).
"""
