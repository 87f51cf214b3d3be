"""The results as a Markdown table (stdout, docs) and as JSON (bench/results/)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lift_db.bench.measure import Summary
from lift_db.bench.results import SECTIONS, Figure, RunResult
from lift_db.bench.targets import FLAT_FIGURES, FLAT_SECTIONS, GROWTH_LIMIT
from lift_db.errors import LiftDbError

# The last accepted run's figures, by key (bench/results/baseline.json).
Baseline = dict[str, dict[str, Any]]


def number(value: float, unit: str) -> str:
    if unit == "ms":
        if value >= 100:
            return f"{value:,.0f}"
        if value >= 10:
            return f"{value:.1f}"
        return f"{value:.3f}" if value < 1 else f"{value:.2f}"
    if unit.startswith("%"):
        return f"{value:.1f}"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def pair(summary: Summary | None, unit: str) -> str:
    if summary is None:
        return "-"
    return f"{number(summary.median, unit)} / {number(summary.p95, unit)} {unit}"


def ratio_text(figure: Figure) -> str:
    r = figure.ratio
    if r is None:
        return "-"
    return f"{r:.0f}x" if r >= 100 else f"{r:.2f}x" if r < 10 else f"{r:.1f}x"


def target_text(figure: Figure) -> str:
    if figure.goal is None:
        return ""
    met = figure.met
    verdict = "met" if met else "**missed**" if met is not None else "n/a"
    return f"{figure.goal.text}: {verdict}"


def scale_line(result: RunResult) -> str:
    data = result.data
    parts = [f"{data[k]:,} {k.replace('_', ' ')}" for k in data if isinstance(data[k], int)]
    return f"scale {result.scale['factor']:g}: " + ", ".join(parts)


def _data_notes(result: RunResult) -> list[str]:
    floats = {k: v for k, v in result.data.items() if isinstance(v, float)}
    if not floats:
        return []
    return ["Data: " + ", ".join(f"{k.replace('_', ' ')} {v:g}" for k, v in floats.items()), ""]


def machine_line(machine: dict[str, Any]) -> str:
    return (
        f"{machine.get('cpu')}, {machine.get('cores')} cores, {machine.get('memory_gb')} GB RAM; "
        f"PostgreSQL {machine.get('postgres')}, pgvector {machine.get('pgvector')}, "
        f"shared_buffers {machine.get('shared_buffers')}"
    )


def load_baseline(path: Path, factor: float | None = None) -> Baseline:
    """The figures of the accepted run at `path`, by key; empty when there is none, or when it
    was measured at another scale than `factor` (figures of two scales do not compare)."""
    if not path.is_file():
        return {}
    run = json.loads(path.read_text())
    if factor is not None and run.get("scale", {}).get("factor") != factor:
        return {}
    out: Baseline = {}
    for f in run.get("figures", []):
        key = f.get("key") or f"{f['section']}/{f['name']}/{f['subject_label']}"
        out[key] = f
    return out


def change_text(figure: Figure, baseline: Baseline) -> str:
    """How the figure moved since the accepted run: its ratio, and its subject median."""
    before = baseline.get(figure.key)
    if before is None:
        return "new" if baseline else ""
    parts = []
    was_ratio = before.get("ratio")
    if figure.ratio is not None and was_ratio:
        parts.append(f"ratio {_ratio(was_ratio)} → {_ratio(figure.ratio)}")
    was_median = (before.get("subject") or {}).get("median")
    if was_median:
        parts.append(f"median {(figure.subject.median / was_median - 1) * 100:+.0f}%")
    return "; ".join(parts)


def _ratio(r: float) -> str:
    return f"{r:.0f}x" if r >= 100 else f"{r:.2f}x" if r < 10 else f"{r:.1f}x"


def measured_text(figure: Figure) -> str:
    """What the target is judged on."""
    if figure.goal is None or figure.goal.on == "ratio":
        return ratio_text(figure)
    if figure.goal.on == "metric":
        return "-" if figure.metric is None else f"{figure.metric:.3g}"
    return f"{number(figure.subject.median, figure.unit)} {figure.unit}"


def verdict_text(figure: Figure) -> str:
    met = figure.met
    return "met" if met else "**missed**" if met is not None else "n/a"


TARGETS_HEADER = (
    "| figure | subject | measured | target | verdict | against the baseline run |\n"
    "| --- | --- | --- | --- | --- | --- |"
)


def targets_table(result: RunResult, baseline: Baseline) -> list[str]:
    """The one table of targets and verdicts (targets live in lift_db/bench/targets.py)."""
    judged = [f for f in result.figures if f.goal is not None]
    if not judged:
        return ["No figure of this run has a target.", ""]
    lines = [TARGETS_HEADER]
    for f in judged:
        cells = [
            f.name,
            f.subject_label,
            measured_text(f),
            f.goal.text if f.goal else "",
            verdict_text(f),
            change_text(f, baseline),
        ]
        lines.append(_row(cells))
    return [*lines, ""]


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


HEADER = (
    "| figure | subject | median / p95 | baseline | median / p95 | ratio | note "
    "| against the baseline run |\n"
    "| --- | --- | --- | --- | --- | --- | --- | --- |"
)


def markdown(result: RunResult, baseline: Baseline | None = None) -> str:
    accepted = baseline or {}
    lines = [
        f"### Benchmark, {scale_line(result)}",
        "",
        f"Machine: {machine_line(result.machine)}. Started {result.started_at}; "
        f"total {result.timings_s.get('total', 0):.0f} s "
        f"(data generation {result.timings_s.get('generate', 0):.0f} s).",
        "",
        *_data_notes(result),
        "Ratio: subject median / baseline median, measured in the same run. "
        "For rates, p95 is the rate 95% of runs reached. "
        + (
            "Against the baseline run: the change since bench/results/baseline.json."
            if accepted
            else "No baseline run (bench/results/baseline.json) to compare with."
        ),
        "",
        "**Targets**",
        "",
        *targets_table(result, accepted),
    ]
    for key, title in SECTIONS.items():
        figures = [f for f in result.figures if f.section == key]
        skipped = [s for s in result.skipped if s.section == key]
        lines.append(f"**{title}**")
        lines.append("")
        if figures:
            lines.append(HEADER)
            for f in figures:
                cells = [
                    f.name,
                    f.subject_label,
                    pair(f.subject, f.unit),
                    f.baseline_label or "-",
                    pair(f.baseline, f.unit),
                    ratio_text(f),
                    f.note,
                    change_text(f, accepted),
                ]
                lines.append(_row(cells))
        for s in skipped:
            lines.append(f"Skipped: {s.reason}")
        lines.append("")
    missed = [f for f in result.figures if f.met is False]
    if missed:
        lines.append(
            "Targets missed: " + "; ".join(f"{f.name} ({f.subject_label})" for f in missed)
        )
    else:
        lines.append("Every target measured in this run was met.")
    return "\n".join(lines) + "\n"


def is_flat_figure(figure: Figure) -> bool:
    return (
        figure.section in FLAT_SECTIONS
        or figure.short_key in FLAT_FIGURES
        or (figure.key in FLAT_FIGURES)
    )


def sweep_markdown(results: list[RunResult]) -> str:
    """One row per figure, one column per scale: subject median (ratio); then its growth, the
    median at the largest scale over the median at the smallest, judged for the hot paths."""
    scales = [r.scale["factor"] for r in results]
    lines = [
        "### Sweep: subject median (ratio to its baseline) at each scale",
        "",
        f"Growth: median at scale {scales[-1]:g} / median at scale {scales[0]:g}; a hot path "
        f"is flat when its growth is at most {GROWTH_LIMIT:g}.",
        "",
        "| figure | subject | " + " | ".join(f"scale {s:g}" for s in scales) + " | growth | flat |",
        "| --- | --- | " + " | ".join("---" for _ in scales) + " | --- | --- |",
    ]
    keys: list[str] = []
    by_key: dict[str, list[Figure | None]] = {}
    for i, r in enumerate(results):
        for f in r.figures:
            if f.key not in by_key:
                keys.append(f.key)
                by_key[f.key] = [None] * len(results)
            by_key[f.key][i] = f
    not_flat: list[str] = []
    for key in keys:
        row = by_key[key]
        cells = [
            "-" if f is None else f"{number(f.subject.median, f.unit)} {f.unit} ({ratio_text(f)})"
            for f in row
        ]
        first, last = row[0], row[-1]
        named = next(f for f in row if f is not None)
        growth_cell, flat_cell = "-", ""
        if first is not None and last is not None and first.subject.median > 0:
            growth = last.subject.median / first.subject.median
            if named.higher_is_better:
                growth = 1 / growth if growth > 0 else float("inf")
            growth_cell = f"{growth:.2f}x"
            if is_flat_figure(named):
                flat = growth <= GROWTH_LIMIT
                flat_cell = "yes" if flat else "**no**"
                if not flat:
                    not_flat.append(f"{named.name} ({named.subject_label})")
        lines.append(
            f"| {named.name} | {named.subject_label} | "
            + " | ".join(cells)
            + f" | {growth_cell} | {flat_cell} |"
        )
    lines.append("")
    lines.append(
        "Hot paths not flat: " + "; ".join(not_flat) if not_flat else "Every hot path is flat."
    )
    lines.append("")
    lines.append(
        "| rows | " + " | ".join(f"scale {s:g}" for s in scales) + " |\n"
        "| --- | " + " | ".join("---" for _ in scales) + " |"
    )
    data_keys = [k for k in results[0].data if isinstance(results[0].data[k], int)]
    for k in data_keys:
        lines.append(f"| {k} | " + " | ".join(f"{r.data.get(k, 0):,}" for r in results) + " |")
    sizes = [k for k in results[0].data if k.endswith("_mb")]
    if sizes:
        lines.append("")
        lines.append(
            "| size (MB, tables with their indexes and TOAST) | "
            + " | ".join(f"scale {s:g}" for s in scales)
            + " |\n| --- | "
            + " | ".join("---" for _ in scales)
            + " |"
        )
        for k in sizes:
            size_cells = " | ".join(f"{float(r.data.get(k, 0)):,.1f}" for r in results)
            lines.append(f"| {k.removesuffix('_mb').replace('_', ' ')} | {size_cells} |")
    return "\n".join(lines) + "\n"


GENERATED_BEGIN = "<!-- generated by make bench: begin -->"
GENERATED_END = "<!-- generated by make bench: end -->"


def replace_generated(doc: Path, text: str) -> None:
    """Put `text` between the generated-region markers of `doc`; the prose around them stays."""
    current = doc.read_text()
    start, end = current.find(GENERATED_BEGIN), current.find(GENERATED_END)
    if start < 0 or end < start:
        raise LiftDbError(
            f"{doc} has no generated region",
            f"put {GENERATED_BEGIN} and {GENERATED_END} where the generated text goes",
        )
    head = current[: start + len(GENERATED_BEGIN)]
    doc.write_text(head + "\n\n" + text.rstrip("\n") + "\n\n" + current[end:])


def write_json(path: Path, payload: dict[str, Any] | list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
