"""The results as a Markdown table (stdout, docs) and as JSON (bench/results/)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lift_db.bench.measure import Summary
from lift_db.bench.results import SECTIONS, Figure, RunResult


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


HEADER = (
    "| figure | subject | median / p95 | baseline | median / p95 | ratio | target | note |\n"
    "| --- | --- | --- | --- | --- | --- | --- | --- |"
)


def markdown(result: RunResult) -> str:
    lines = [
        f"### Benchmark, {scale_line(result)}",
        "",
        f"Machine: {machine_line(result.machine)}. Started {result.started_at}; "
        f"total {result.timings_s.get('total', 0):.0f} s "
        f"(data generation {result.timings_s.get('generate', 0):.0f} s).",
        "",
        *_data_notes(result),
        "Ratio: subject median / baseline median, measured in the same run. "
        "For rates, p95 is the rate 95% of runs reached.",
        "",
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
                    target_text(f),
                    f.note,
                ]
                lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
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


def sweep_markdown(results: list[RunResult]) -> str:
    """One row per figure, one column per scale: subject median (ratio)."""
    scales = [r.scale["factor"] for r in results]
    lines = [
        "### Sweep: subject median (ratio to its baseline) at each scale",
        "",
        "| figure | subject | " + " | ".join(f"scale {s:g}" for s in scales) + " |",
        "| --- | --- | " + " | ".join("---" for _ in scales) + " |",
    ]
    keys: list[tuple[str, str, str]] = []
    for r in results:
        for f in r.figures:
            key = (f.section, f.name, f.subject_label)
            if key not in keys:
                keys.append(key)
    for section, name, label in keys:
        cells = []
        for r in results:
            match = [
                f
                for f in r.figures
                if (f.section, f.name, f.subject_label) == (section, name, label)
            ]
            if not match:
                cells.append("-")
                continue
            f = match[0]
            cells.append(f"{number(f.subject.median, f.unit)} {f.unit} ({ratio_text(f)})")
        lines.append(f"| {name} | {label} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(
        "| rows | " + " | ".join(f"scale {s:g}" for s in scales) + " |\n"
        "| --- | " + " | ".join("---" for _ in scales) + " |"
    )
    data_keys = [k for k in results[0].data if isinstance(results[0].data[k], int)]
    for k in data_keys:
        lines.append(f"| {k} | " + " | ".join(f"{r.data.get(k, 0):,}" for r in results) + " |")
    return "\n".join(lines) + "\n"


def write_json(path: Path, payload: dict[str, Any] | list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
