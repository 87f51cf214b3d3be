"""The review tools: what a pull request's migration does, and the gates it must pass.

Public modules:
- `lint_gates`: `lift-db lock`, `snapshot` and `compat` (the gates of `make lint`), with their
  check forms;
- `diff_commands`: `lift-db diff` and `lift-db drift`, the change workflow's commands;
- `compat_catalog`: what PostgreSQL 18 adds over 17 (`make compat-list`, `pg_additions.json`).
"""
