"""`python -m lift_db.bench`: generate data at a scale, measure, print the table, write results.

    python -m lift_db.bench                      # default scale (make bench)
    python -m lift_db.bench --scale 0.3
    python -m lift_db.bench --sweep 0.1,1,3      # growth over scales (make bench-sweep)
    python -m lift_db.bench --quick              # tiny scale, few repeats (make bench-quick)
    python -m lift_db.bench --accept             # measure, then keep the run as the baseline

Every figure is printed with its change against the last accepted run,
bench/results/baseline.json (committed). A default-scale run of every section regenerates the
generated region of docs/performance.md; a sweep of every section, that of docs/scaling.md.

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
DEFAULT_SCALE = 1.0
BASELINE = Path("bench") / "results" / "baseline.json"
PERFORMANCE_DOC = Path("docs") / "performance.md"
SCALING_DOC = Path("docs") / "scaling.md"


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
    parser.add_argument(
        "--accept",
        action="store_true",
        help=f"store this run as the baseline ({BASELINE}) that later runs compare with",
    )
    docs = parser.add_mutually_exclusive_group()
    docs.add_argument(
        "--no-docs", action="store_true", help="leave docs/performance.md and docs/scaling.md alone"
    )
    docs.add_argument(
        "--docs",
        action="store_true",
        help="regenerate the docs' tables even from a subset of --sections",
    )
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
    every_section = set(args.sections) == set(SECTIONS)
    write_docs = not (quick or args.no_docs) and (every_section or args.docs)
    results: list[RunResult] = []
    for factor in scales:
        result = run_once(
            project, Scale.of(factor), repeats, progress,
            db_name=db_name, sections=args.sections, keep=args.keep,
        )  # fmt: skip
        results.append(result)
        baseline = report.load_baseline(project.root / BASELINE, factor)
        written = _write_run(result, out, progress, baseline)
        text = report.markdown(result, baseline)
        print(text)
        if write_docs and not args.sweep and factor == DEFAULT_SCALE:
            report.replace_generated(project.root / PERFORMANCE_DOC, text)
            written.append(project.root / PERFORMANCE_DOC)
        if args.accept and not args.sweep:
            report.write_json(project.root / BASELINE, result.as_dict())
            written.append(project.root / BASELINE)
        progress.say("wrote " + ", ".join(str(p) for p in written))
    if len(results) > 1:
        table = report.sweep_markdown(results)
        report.write_json(out / "sweep.json", [r.as_dict() for r in results])
        (out / "sweep.md").write_text(table)
        written = [out / "sweep.json", out / "sweep.md"]
        if plots.available():
            written.append(plots.plot_sweep(results, out / "sweep.png"))
        print(table)
        if write_docs:
            report.replace_generated(project.root / SCALING_DOC, table)
            written.append(project.root / SCALING_DOC)
        progress.say("wrote " + ", ".join(str(p) for p in written))
    return 0


def _write_run(
    result: RunResult, out: Path, progress: Progress, baseline: report.Baseline
) -> list[Path]:
    stem = f"bench-scale-{result.scale['factor']:g}"
    report.write_json(out / f"{stem}.json", result.as_dict())
    (out / f"{stem}.md").write_text(report.markdown(result, baseline))
    written = [out / f"{stem}.json", out / f"{stem}.md"]
    if plots.available():
        written.append(plots.plot_run(result, out / f"{stem}.png"))
    else:
        progress.say("matplotlib is not installed (pip install -e '.[bench]'): no PNG written")
    return written
