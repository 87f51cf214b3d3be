"""PNG plots of a run and of a sweep, when matplotlib is installed (the `bench` extra)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from lift_db.bench.results import SECTIONS, Figure, RunResult


def available() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _label(f: Figure) -> str:
    text = f"{f.name} [{f.subject_label}]"
    return text if len(text) <= 90 else text[:87] + "..."


def _log_axis(axis: Any) -> None:
    from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    formatter = ScalarFormatter()
    formatter.set_scientific(False)
    axis.set_major_formatter(formatter)
    axis.set_minor_formatter(NullFormatter())


def plot_run(result: RunResult, path: Path) -> Path:
    """Top: latency medians (bars) and p95 (whiskers), subject against baseline, log scale.
    Bottom: every ratio, coloured by its target where the target is on the ratio."""
    plt = _pyplot()
    timed = [f for f in result.figures if f.unit == "ms" and f.baseline is not None]
    ratios = [f for f in result.figures if f.ratio is not None]
    fig, (top, bottom) = plt.subplots(
        2,
        1,
        figsize=(13, 0.42 * (len(timed) + len(ratios)) + 3),
        gridspec_kw={"height_ratios": [max(1, len(timed)), max(1, len(ratios))]},
    )
    ys = list(range(len(timed)))
    for offset, side, colour in ((-0.2, "subject", "#d1495b"), (0.2, "baseline", "#00798c")):
        med = [getattr(f, side).median for f in timed]
        p95 = [getattr(f, side).p95 for f in timed]
        top.barh(
            [y + offset for y in ys],
            med,
            height=0.38,
            color=colour,
            label=side,
            xerr=[[0] * len(med), [p - m for p, m in zip(p95, med, strict=True)]],
            capsize=2,
        )
    top.set_yticks(ys, [_label(f) for f in timed], fontsize=7)
    top.set_xscale("log")
    _log_axis(top.xaxis)
    top.set_xlabel("ms (bar: median, whisker: p95)")
    top.invert_yaxis()
    top.legend(fontsize=8, loc="lower right")
    ry = list(range(len(ratios)))
    colours = [
        "#2e7d32"
        if f.met
        else "#c62828"
        if f.goal is not None and f.goal.on == "ratio"
        else "#888888"
        for f in ratios
    ]
    bottom.barh(ry, [f.ratio or 0 for f in ratios], color=colours)
    for y, f in zip(ry, ratios, strict=True):
        if f.goal is not None and f.goal.on == "ratio":
            bottom.plot([f.goal.value, f.goal.value], [y - 0.4, y + 0.4], color="black", lw=1)
    bottom.set_yticks(ry, [_label(f) for f in ratios], fontsize=7)
    bottom.set_xscale("log")
    _log_axis(bottom.xaxis)
    bottom.axvline(1.0, color="black", lw=0.5, ls=":")
    bottom.set_xlabel("ratio subject / baseline (green: target met, red: missed, tick: target)")
    bottom.invert_yaxis()
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
    panels = list(dict.fromkeys((f.section, f.unit) for r in results for f in r.figures))
    cols = 2
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(14, 4.2 * rows), squeeze=False)
    for ax, (section, unit) in zip(axes.flat, panels, strict=False):
        keys = list(
            dict.fromkeys(
                (f.name, f.subject_label)
                for r in results
                for f in r.figures
                if (f.section, f.unit) == (section, unit)
            )
        )
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
            line = ax.plot(xs, ys, marker="o", label=f"{name} [{label}]"[:60])[0]
            if any(b == b for b in bs):
                ax.plot(xs, bs, marker=".", ls="--", color=line.get_color(), alpha=0.6)
        ax.set_xscale("log")
        ax.set_yscale("log")
        _log_axis(ax.xaxis)
        _log_axis(ax.yaxis)
        ax.set_xlabel("sessions")
        ax.set_ylabel(unit)
        ax.set_title(f"{SECTIONS.get(section, section)} ({unit})", fontsize=9)
        ax.legend(fontsize=6)
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    fig.suptitle("Growth with scale: subject (solid) and baseline (dashed) medians")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
