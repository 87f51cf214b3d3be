"""What the red team tried, per class of attack: counted as the attacks run, printed at the end.

An attack is one attempt, by one identity, on one target. It is refused when the database kept
what it promises (no privilege, no byte, no lock, no unbounded write, no oracle); otherwise the
attack succeeded and its description is kept for the failure message and the summary.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

# The classes of attack, in the order docs/security.md describes them.
CLASSES = (
    "pg_temp shadowing",
    "ON CONFLICT leak and lock",
    "oversized and deep payloads",
    "LOCK TABLE",
    "existence oracles",
    "set_config",
)


@dataclass
class ClassTally:
    tried: int = 0
    succeeded: list[str] = field(default_factory=list)

    @property
    def refused(self) -> int:
        return self.tried - len(self.succeeded)


_lock = threading.Lock()
_tallies: dict[str, ClassTally] = {}
_notes: dict[str, int] = {}


def record(attack_class: str, refused: bool, description: str) -> None:
    """One attack of `attack_class`: refused, or it succeeded as `description` says."""
    assert attack_class in CLASSES, attack_class
    with _lock:
        tally = _tallies.setdefault(attack_class, ClassTally())
        tally.tried += 1
        if not refused:
            tally.succeeded.append(description)


def note(name: str, amount: int = 1) -> None:
    """A figure that is not an attack (targets found, shadows planted, harmless lock modes)."""
    with _lock:
        _notes[name] = _notes.get(name, 0) + amount


def snapshot() -> tuple[dict[str, ClassTally], dict[str, int]]:
    with _lock:
        tallies = {name: ClassTally(t.tried, list(t.succeeded)) for name, t in _tallies.items()}
        return tallies, dict(sorted(_notes.items()))
