"""Backups: the app's data in one tar file (`lift-db dump`), and back (`lift-db restore`).

Public modules:
- `dump`: `lift-db dump`, writing the backup;
- `restore`: `lift-db restore`, reading an untrusted backup back into a database.
"""
