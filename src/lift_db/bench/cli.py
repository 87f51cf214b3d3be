"""`python -m lift_db.bench`: generate data at a scale, measure, print the table, write results.

    python -m lift_db.bench                      # default scale (make bench)
    python -m lift_db.bench --scale 0.3
    python -m lift_db.bench --sweep 0.1,0.3,1    # growth over scales (make bench-sweep)
    python -m lift_db.bench --quick              # tiny scale, few repeats (make bench-quick)

It needs the local server (`make db`) and works in its own database, `lift_bench`, which it
drops and recreates: the dev database is never touched. Targets are reported, never enforced:
the exit status is 0 whenever every measurement ran.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from lift_db.bench import database, plots, report
from lift_db.bench.progress import Progress
from lift_db.bench.results import SECTIONS, RunResult
from lift_db.bench.runner import run_once
from lift_db.bench.scale import Repeats, Scale
from lift_db.errors import LiftDbError
from lift_db.local.project import Project, find_project

QUICK_SCALE = 0.01
QUICK_DB = "lift_bench_quick"


def _positive(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not number > 0 or number != number or number == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, not {value!r}")
    return number


def _scales(value: str) -> list[float]:
    scales = [_positive(part.strip()) for part in value.split(",") if part.strip()]
    if len(scales) < 2:
        raise argparse.ArgumentTypeError("a sweep needs at least two scales, e.g. 0.1,0.3,1")
    return sorted(set(scales))


def _sections(value: str) -> list[str]:
    chosen = [part.strip() for part in value.split(",") if part.strip()]
    unknown = [c for c in chosen if c not in SECTIONS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(
            f"unknown section(s) {', '.join(unknown) or '(none)'}; choose from "
            + ", ".join(SECTIONS)
        )
    return chosen


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m lift_db.bench",
        description="Measure the datastore at scale; every figure against its baseline.",
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument(
        "--scale",
        type=_positive,
        default=1.0,
        help="multiply the default scale (1,000 users, 100,000 sessions, 500,000 history rows, "
        "1,000,000 analytics events, 20,000 embeddings); default 1",
    )
    size.add_argument("--sweep", type=_scales, help="comma-separated scales, e.g. 0.1,0.3,1")
    size.add_argument(
        "--quick",
        action="store_true",
        help=f"scale {QUICK_SCALE:g} with few repeats: proves the benchmark runs, in seconds",
    )
    parser.add_argument(
        "--sections",
        type=_sections,
        default=list(SECTIONS),
        help="comma-separated subset of: " + ", ".join(SECTIONS),
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where JSON, Markdown and PNG go (default bench/results, bench/results/quick)",
    )
    parser.add_argument(
        "--db",
        default=None,
        help=f"benchmark database name, lift_bench… (default {database.DEFAULT_NAME}, "
        f"{QUICK_DB} with --quick); dropped and recreated",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database after the run")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    return parser  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        project = find_project()
        database.check_name(args.db or database.DEFAULT_NAME)
        return _run(project, args)
    except LiftDbError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


def _run(project: Project, args: argparse.Namespace) -> int:
    progress = Progress(quiet=args.quiet)
    quick: bool = args.quick
    repeats = Repeats.quick() if quick else Repeats()
    db_name: str = args.db or (QUICK_DB if quick else database.DEFAULT_NAME)
    out: Path = args.out or (project.root / "bench" / "results" / ("quick" if quick else ""))
    scales: list[float] = args.sweep or [QUICK_SCALE if quick else args.scale]
    results: list[RunResult] = []
    for factor in scales:
        result = run_once(
            project, Scale.of(factor), repeats, progress,
            db_name=db_name, sections=args.sections, keep=args.keep,
        )  # fmt: skip
        results.append(result)
        written = _write_run(result, out, progress)
        print(report.markdown(result))
        progress.say("wrote " + ", ".join(str(p) for p in written))
    if len(results) > 1:
        table = report.sweep_markdown(results)
        report.write_json(out / "sweep.json", [r.as_dict() for r in results])
        (out / "sweep.md").write_text(table)
        written = [out / "sweep.json", out / "sweep.md"]
        if plots.available():
            written.append(plots.plot_sweep(results, out / "sweep.png"))
        print(table)
        progress.say("wrote " + ", ".join(str(p) for p in written))
    return 0


def _write_run(result: RunResult, out: Path, progress: Progress) -> list[Path]:
    stem = f"bench-scale-{result.scale['factor']:g}"
    report.write_json(out / f"{stem}.json", result.as_dict())
    (out / f"{stem}.md").write_text(report.markdown(result))
    written = [out / f"{stem}.json", out / f"{stem}.md"]
    if plots.available():
        written.append(plots.plot_run(result, out / f"{stem}.png"))
    else:
        progress.say("matplotlib is not installed (pip install -e '.[bench]'): no PNG written")
    return written
