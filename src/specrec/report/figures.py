"""The papers' figures from selected configurations: Figure 3 (encoders) and Figure 4 (λ sweep)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from specrec.evaluate.sampling import labelled
from specrec.report import plots
from specrec.report.layouts import Bars, Sweep
from specrec.report.render import short_name


def save_both(figure, directory: Path, stem: str) -> list[str]:
    """The figure as `<stem>.png` and `<stem>.pdf`; their names."""
    return [plots.save(figure, directory / f"{stem}.png"),
            plots.save(figure, directory / f"{stem}.pdf")]


def _error(summary) -> float:
    """The std over seeds as an error bar (NaN draws none: one seed, or no value)."""
    return math.nan if summary is None else summary.std


def _title(text: str, width: int = 64) -> str:
    import textwrap

    return textwrap.fill(text, width, break_on_hyphens=False)


def plot_encoders(bars: Bars, directory: Path, title: str | None) -> list[str]:
    """Grouped bars: one group per encoder, one bar per method (± std over seeds); methods that
    read no text (ID-only) are dashed horizontal lines across every group."""
    from matplotlib import colormaps

    figure = plots.new_figure(max(5.0, 1.6 + 1.4 * len(bars.encoders)), 4.0)
    axes = figure.add_subplot()
    methods = list(bars.bars)
    width = 0.8 / max(len(methods), 1)
    colors = colormaps["tab10"]
    positions = np.arange(len(bars.encoders), dtype=np.float64)
    for m, method in enumerate(methods):
        offsets = positions - 0.4 + width * (m + 0.5)
        values = [bars.bars[method].get(e) for e in bars.encoders]
        heights = [np.nan if v is None else v.mean for v in values]
        axes.bar(offsets, heights, width, yerr=[_error(v) for v in values], capsize=3,
                 color=colors(m % 10), label=method)
    for k, (method, summary) in enumerate(bars.lines.items()):
        axes.axhline(summary.mean, color="0.2", linestyle=("--", ":", "-.")[k % 3], linewidth=1.2,
                     label=f"{method} (no text)")
    axes.set_xticks(positions, bars.encoders)
    axes.set_xlabel("encoder")
    axes.set_ylabel(f"test {labelled(short_name(bars.metric), bars.ranking)}")
    axes.set_title(_title(f"Figure 3: methods × encoders ({bars.fixed})",
                          max(36, 12 * len(bars.encoders) + 20)), fontsize=10)
    axes.legend(fontsize=8)
    if title:
        figure.suptitle(title)
    return save_both(figure, directory, "figure3")


def plot_lambda(sweep: Sweep, directory: Path, title: str | None) -> list[str]:
    """Validation and test score against λ on a symlog axis (linear below the smallest λ > 0, so
    λ = 0 is drawn); the selected λ is a vertical line and a star on both curves."""
    figure = plots.new_figure(6.5, 4.2)
    axes = figure.add_subplot()
    lams = np.array([p.lam for p in sweep.points], dtype=np.float64)
    valid_name = labelled(short_name(sweep.valid_metric), sweep.valid_ranking)
    test_name = labelled(short_name(sweep.metric), sweep.ranking)
    curves = ((f"validation {valid_name}", [p.valid for p in sweep.points], "tab:blue", "o"),
              (f"test {test_name}", [p.test for p in sweep.points], "tab:orange", "s"))
    selected = [i for i, p in enumerate(sweep.points) if p.selected]
    for name, summaries, color, marker in curves:
        means = np.array([np.nan if s is None else s.mean for s in summaries])
        axes.errorbar(lams, means, yerr=[_error(s) for s in summaries], color=color,
                      marker=marker, capsize=3, label=name)
        axes.plot(lams[selected], means[selected], "*", color=color, markersize=16,
                  markeredgecolor="k")
    for i in selected:
        axes.axvline(lams[i], color="tab:red", linestyle=":",
                     label=f"selected λ={sweep.points[i].lam:g} (best validation)")
    positive = lams[lams > 0]
    axes.set_xscale("symlog", linthresh=float(positive.min()) if len(positive) else 1.0)
    axes.set_xticks(lams, [f"{lam:g}" for lam in lams])
    axes.set_xlabel("λ (symlog: linear from 0 to the smallest λ > 0, log above)")
    same = (sweep.metric, sweep.ranking) == (sweep.valid_metric, sweep.valid_ranking)
    axes.set_ylabel(test_name if same else "score")
    axes.set_title(_title(f"Figure 4: ACE against λ ({sweep.fixed})"), fontsize=10)
    axes.legend(fontsize=8)
    if title:
        figure.suptitle(title)
    return save_both(figure, directory, "figure4")
