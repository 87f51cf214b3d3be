"""PNG plots of a run and of a sweep, when matplotlib is installed (the `bench` extra)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from lift_db.bench.results import Figure, RunResult


def available() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _label(f: Figure) -> str:
    text = f"{f.name} [{f.subject_label}]"
    return text if len(text) <= 70 else text[:67] + "..."


def plot_run(result: RunResult, path: Path) -> Path:
    """Left: latency medians (bars) and p95 (whiskers), subject against baseline, log scale.
    Right: every ratio, with its target where it has one."""
    plt = _pyplot()
    timed = [f for f in result.figures if f.unit == "ms" and f.baseline is not None]
    ratios = [f for f in result.figures if f.ratio is not None]
    height = max(4.0, 0.45 * max(len(timed), len(ratios)) + 1.5)
    fig, (left, right) = plt.subplots(1, 2, figsize=(15, height))
    ys = list(range(len(timed)))
    for offset, side, colour in ((-0.2, "subject", "#d1495b"), (0.2, "baseline", "#00798c")):
        med = [getattr(f, side).median for f in timed]
        p95 = [getattr(f, side).p95 for f in timed]
        left.barh(
            [y + offset for y in ys],
            med,
            height=0.38,
            color=colour,
            label=side,
            xerr=[[0] * len(med), [p - m for p, m in zip(p95, med, strict=True)]],
            capsize=2,
        )
    left.set_yticks(ys, [_label(f) for f in timed], fontsize=7)
    left.set_xscale("log")
    left.set_xlabel("ms (bar: median, whisker: p95)")
    left.invert_yaxis()
    left.legend(fontsize=8)
    ry = list(range(len(ratios)))
    colours = ["#888888" if f.met is None else "#2e7d32" if f.met else "#c62828" for f in ratios]
    right.barh(ry, [f.ratio or 0 for f in ratios], color=colours)
    for y, f in zip(ry, ratios, strict=True):
        if f.goal is not None and f.goal.on == "ratio":
            right.plot([f.goal.value, f.goal.value], [y - 0.4, y + 0.4], color="black", lw=1)
    right.set_yticks(ry, [_label(f) for f in ratios], fontsize=7)
    right.set_xscale("log")
    right.axvline(1.0, color="black", lw=0.5, ls=":")
    right.set_xlabel("ratio subject/baseline (green: target met, red: missed, line: target)")
    right.invert_yaxis()
    fig.suptitle(f"lift-sys datastore benchmark, scale {result.scale['factor']:g}")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_sweep(results: list[RunResult], path: Path) -> Path:
    """Subject median (solid) and baseline median (dashed) against the number of sessions,
    one panel per section."""
    plt = _pyplot()
    sections = [s for s in dict.fromkeys(f.section for r in results for f in r.figures)]
    cols = 2
    rows = -(-len(sections) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(14, 4.2 * rows), squeeze=False)
    for ax, section in zip(axes.flat, sections, strict=False):
        keys = list(
            dict.fromkeys(
                (f.name, f.subject_label)
                for r in results
                for f in r.figures
                if f.section == section
            )
        )
        unit = ""
        for name, label in keys:
            xs: list[float] = []
            ys: list[float] = []
            bs: list[float] = []
            for r in results:
                for f in r.figures:
                    if (f.section, f.name, f.subject_label) == (section, name, label):
                        xs.append(float(r.data.get("sessions", r.scale["sessions"])))
                        ys.append(f.subject.median)
                        bs.append(f.baseline.median if f.baseline else float("nan"))
                        unit = f.unit
            line = ax.plot(xs, ys, marker="o", label=f"{name} [{label}]"[:60])[0]
            if any(b == b for b in bs):
                ax.plot(xs, bs, marker=".", ls="--", color=line.get_color(), alpha=0.6)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("sessions")
        ax.set_ylabel(unit)
        ax.set_title(section)
        ax.legend(fontsize=6)
    for ax in list(axes.flat)[len(sections) :]:
        ax.axis("off")
    fig.suptitle("Growth with scale: subject (solid) and baseline (dashed) medians")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
