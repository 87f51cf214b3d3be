"""The `lift_db.store` logger: retries, fallbacks, pool events and slow statements.

The library never configures logging: the package adds a NullHandler, so nothing is printed until
the app configures logging (e.g. `logging.basicConfig(level=logging.INFO)`). Levels: WARNING for
what an operator should look at (slow statements, an exhausted pool, the in-memory fallback),
INFO for retries and the pool opening and closing, DEBUG for every statement's duration.
"""

from __future__ import annotations

import logging

logger = logging.getLogger("lift_db.store")
