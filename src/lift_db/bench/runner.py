"""One benchmark run at one scale: fresh database, data, every section, results."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from lift_db.bench import analytics, contention, database, datagen, rls, store_ops, vectors
from lift_db.bench.database import BenchDatabase
from lift_db.bench.measure import clock
from lift_db.bench.progress import Progress
from lift_db.bench.results import SECTIONS, Figure, RunResult, Skipped
from lift_db.bench.scale import Repeats, Scale
from lift_db.local.project import Project

Section = Callable[[BenchDatabase, Repeats, Progress], list[Figure]]

MEASURES: dict[str, Section] = {
    "rls": rls.measure_overhead,
    "naive": rls.measure_naive,
    "vector": vectors.measure,
    "analytics": analytics.measure,
    "store": store_ops.measure_store,
    "contention": contention.measure_contention,
}


def run_once(
    project: Project,
    scale: Scale,
    repeats: Repeats,
    progress: Progress,
    *,
    db_name: str = database.DEFAULT_NAME,
    sections: Sequence[str] = tuple(SECTIONS),
    keep: bool = False,
) -> RunResult:
    started = clock()
    progress.say(f"scale {scale.label()}: fresh database {db_name}")
    db = database.create(project, db_name, progress.say)
    try:
        with db.connect() as conn:
            machine = database.machine(conn)
            features = database.detect(conn)
        result = RunResult(
            scale=scale.as_dict(),
            repeats=repeats.as_dict(),
            machine=machine,
            started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        t = clock()
        result.data.update(datagen.generate_core(db, scale, progress).as_dict())
        wanted = set(sections)
        for key, module in (("vector", vectors), ("analytics", analytics)):
            if key not in wanted:
                continue
            missing = module.missing(features)
            if missing:
                result.skipped.append(Skipped(key, missing))
                wanted.discard(key)
                progress.say(f"{SECTIONS[key]}: skipped ({missing})")
                continue
            result.data.update(module.generate(db, scale, progress))
        with db.connect(admin=True) as conn:
            conn.execute("checkpoint")
            result.data.update(database.sizes_mb(conn))
        result.timings_s["generate"] = clock() - t
        for key in SECTIONS:
            if key not in wanted:
                continue
            t = clock()
            progress.say(f"{SECTIONS[key]}")
            result.figures.extend(MEASURES[key](db, repeats, progress))
            result.timings_s[key] = clock() - t
        result.timings_s["total"] = clock() - started
        return result
    finally:
        if not keep:
            database.drop(project, db_name)
