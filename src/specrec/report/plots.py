"""Report figures (matplotlib, Agg canvas, no display): spectra, diagnostics, training curves."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from specrec.console import log
from specrec.evaluate.sampling import labelled
from specrec.report.inputs import Transform
from specrec.report.settings import join_label, lambda_of, lambda_text
from specrec.report.tables import transform_labels, transform_parts

DPI = 120


def new_figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def save(figure, path: Path) -> str:
    figure.savefig(path, dpi=DPI)
    return path.name


def _before_after(transform: Transform) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Spectra of the input embeddings (names with `before`) and of the table (all others)."""
    before = {n: s for n, s in transform.spectra.items() if "before" in n}
    after = {n: s for n, s in transform.spectra.items() if "before" not in n}
    return before, after


def _positive(values: np.ndarray) -> np.ndarray:
    return np.where(values > 0, values, np.nan)


def ace_lambda(transform: Transform) -> float | None:
    """λ of an ACE table as a number: the one given, or the one λ "auto" resolved to; else None."""
    value = lambda_of(transform.params) if transform.method == "ace" else None
    return value if isinstance(value, float) else None


def plot_transform_spectrum(transform: Transform, label: str, path: Path,
                            title: str | None) -> str:
    """Every singular-value spectrum of one transform (before and after), log y."""
    figure = new_figure(6.0, 4.0)
    axes = figure.add_subplot()
    for name, values in transform.spectra.items():
        style = "--" if "before" in name else "-"
        axes.plot(np.arange(1, len(values) + 1), _positive(values), style, label=name)
    axes.set_yscale("log")
    axes.set_xlabel("index i (descending)")
    axes.set_ylabel("singular value σ_i")
    axes.set_title(f"{label} ({transform.path.name})", fontsize=10)
    axes.legend(fontsize=8)
    if title:
        figure.suptitle(title)
    return save(figure, path)


def _raw_key(transform: Transform, values: np.ndarray) -> str:
    """Identity of the input embeddings: the embeddings fingerprint, else the spectrum itself."""
    for ref in transform.meta.inputs.values():
        if isinstance(ref, dict) and ref.get("kind") == "embeddings" and ref.get("fingerprint"):
            return str(ref["fingerprint"])
    return values.tobytes().hex()[:64] + str(len(values))


def _source(transform: Transform) -> str:
    """The input embeddings of a transform: their fingerprint, else the transform itself."""
    for ref in transform.meta.inputs.values():
        if isinstance(ref, dict) and ref.get("kind") == "embeddings" and ref.get("fingerprint"):
            return str(ref["fingerprint"])
    return str(transform.path)


def _ordered(transforms: list[Transform]) -> list[Transform]:
    """ACE tables by increasing λ first, then the other transforms by label."""
    labels = dict(zip(map(id, transforms), transform_labels(transforms)))
    ace = sorted((t for t in transforms if ace_lambda(t) is not None), key=ace_lambda)
    return ace + sorted((t for t in transforms if t not in ace), key=lambda t: labels[id(t)])


def _legend_labels(transforms: list[Transform]) -> dict[int, str]:
    """`ACE λ=10` (ACE tables always name λ), else the transform's label; by id()."""
    out = {}
    for transform, parts in zip(transforms, transform_parts(transforms)):
        if transform.method == "ace" and lambda_text(transform.params):
            rest = [p for p in parts if not p.startswith("λ=")]
            extra = f" ({', '.join(rest)})" if rest else ""
            out[id(transform)] = f"ACE {lambda_text(transform.params)}{extra}"
        else:
            out[id(transform)] = join_label(transform.method, parts)
    return out


def plot_normalised_spectra(transforms: list[Transform], path: Path,
                            title: str | None) -> list[str]:
    """ACE Fig. 2 style: σ_i / σ_1 of the raw embeddings and of every table on one log axis,
    written to `path` (PNG) and beside it as PDF.

    Each table is drawn beside the raw spectrum it is comparable with: centred (dashed) for the
    methods that centre, uncentred (dotted) for ACE without `center`."""
    from matplotlib import colormaps

    figure = new_figure(7.0, 4.5)
    axes = figure.add_subplot()
    raw_seen: dict[str, str] = {}
    ordered = _ordered(transforms)
    legend = _legend_labels(transforms)
    ace = [t for t in ordered if ace_lambda(t) is not None]
    shades = colormaps["viridis"](np.linspace(0.0, 0.9, max(len(ace), 1)))
    others = colormaps["tab10"]
    for i, transform in enumerate(ordered):
        before, after = _before_after(transform)
        centred = bool(transform.scalars.get("centered", 1.0))
        for values in before.values():
            key = _raw_key(transform, values) + (":centred" if centred else ":uncentred")
            if key not in raw_seen and values[0] > 0:
                raw_seen[key] = _embeddings_name(transform)
                kind = "centred" if centred else "uncentred"
                axes.plot(np.arange(1, len(values) + 1), _positive(values / values[0]),
                          "k--" if centred else "k:", linewidth=1.8,
                          label=f"raw embeddings ({raw_seen[key]}, {kind})")
        for values in after.values():
            if len(values) == 0 or values[0] <= 0:
                continue
            if transform in ace:
                color = shades[ace.index(transform)]
            else:
                color = others(i % 10)
            label = legend[id(transform)]
            axes.plot(np.arange(1, len(values) + 1), _positive(values / values[0]),
                      color=color, label=label)
    axes.set_yscale("log")
    axes.set_ylim(bottom=max(axes.get_ylim()[0], 1e-4))  # the rank-deficient tail is noise
    axes.set_xlabel("singular direction i (descending)")
    axes.set_ylabel("normalised singular value σ_i / σ_1")
    axes.set_title(title or "Normalised singular-value spectra", fontsize=10)
    handles, labels = axes.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    axes.legend(unique.values(), unique.keys(), fontsize=8, loc="lower left")
    return [save(figure, path), save(figure, path.with_suffix(".pdf"))]


def _embeddings_name(transform: Transform) -> str:
    for ref in transform.meta.inputs.values():
        if isinstance(ref, dict) and ref.get("kind") == "embeddings" and ref.get("path"):
            return Path(str(ref["path"])).name
    return "input"


def diagnostic_panels(transforms: list[Transform], columns: list[str]) -> list[str]:
    """The diagnostics worth a panel: `<stem>` of each before/after pair, then the other scalars,
    leaving out flags (a diagnostic that is 0 or 1 for every transform, like `centered`)."""
    stems = [c[: -len("_before")] for c in columns
             if c.endswith("_before") and c[: -len("_before")] + "_after" in columns]
    singles = [c for c in columns if c not in {f"{s}_{side}" for s in stems
                                               for side in ("before", "after")}]
    panels = []
    for name in [*stems, *singles]:
        keys = (f"{name}_before", f"{name}_after") if name in stems else (name,)
        values = [t.scalars[k] for t in transforms for k in keys if k in t.scalars]
        values = [v for v in values if np.isfinite(v)]
        if values and not all(v in (0.0, 1.0) for v in values):
            panels.append(name)
    return panels


def _diagnostic_rows(transforms: list[Transform]) -> list[tuple[str, str, object]]:
    """(label, kind, source) per bar row: the raw inputs (one per embeddings and centring, as the
    `_before` values differ with centring), then the tables with the diagnostics table's labels."""
    labels = dict(zip(map(id, transforms), transform_labels(transforms)))
    raw: dict[tuple[str, bool], Transform] = {}
    for transform in _ordered(transforms):
        centred = bool(transform.scalars.get("centered", 1.0))
        raw.setdefault((_source(transform), centred), transform)
    sources = [key for key, _ in raw]
    rows = []
    for (source, centred), transform in raw.items():
        label = f"raw {_embeddings_name(transform)}"
        if sources.count(source) > 1:
            label += " (centred)" if centred else " (uncentred)"
        rows.append((label, "raw", (source, centred)))
    rows += [(labels[id(t)], "table", t) for t in _ordered(transforms)]
    return rows


def _row_value(row: tuple[str, str, object], transforms: list[Transform], name: str,
               paired: bool) -> float | None:
    """A raw row's `_before` value (from the first table of its input), a table's `_after`."""
    _, kind, source = row
    if kind == "table":
        return source.scalars.get(f"{name}_after" if paired else name)
    for transform in _ordered(transforms):
        key = (_source(transform), bool(transform.scalars.get("centered", 1.0)))
        if paired and key == source and f"{name}_before" in transform.scalars:
            return transform.scalars[f"{name}_before"]
    return None


def plot_diagnostics(transforms: list[Transform], columns: list[str], path: Path,
                     title: str | None) -> str | None:
    """One horizontal bar panel per numeric diagnostic, all panels on the same rows: the raw
    inputs (grey, the `_before` values) and each table (blue, `_after`); None with no panel."""
    import textwrap

    panels = diagnostic_panels(transforms, columns)
    if not panels:
        return None
    paired = {c[: -len("_before")] for c in columns if c.endswith("_before")}
    rows = _diagnostic_rows(transforms)
    n_cols = min(len(panels), 3)
    n_rows = (len(panels) + n_cols - 1) // n_cols
    figure = new_figure(2.6 + 3.2 * n_cols, n_rows * (0.9 + 0.28 * len(rows)))
    grid = figure.subplots(n_rows, n_cols, sharey=True, squeeze=False)
    positions = np.arange(len(rows))
    for p, axes in enumerate(grid.flat):
        if p >= len(panels):
            axes.set_visible(False)
            continue
        name = panels[p]
        values = [_row_value(row, transforms, name, name in paired) for row in rows]
        drawn = [i for i, v in enumerate(values) if v is not None]
        axes.barh(positions[drawn], [values[i] for i in drawn],
                  color=["0.5" if rows[i][1] == "raw" else "tab:blue" for i in drawn])
        axes.set_title(name, fontsize=10)
        axes.tick_params(axis="x", labelsize=8)
    for axes in grid[:, 0]:
        axes.set_yticks(positions, [textwrap.fill(row[0], 30) for row in rows], fontsize=8)
    grid[0, 0].invert_yaxis()
    if title:
        figure.suptitle(title)
    return save(figure, path)


def history_column(history: dict[str, np.ndarray], primary: str) -> str | None:
    """`valid_<primary>` when the history has it, else its first `valid_` column, else None."""
    if f"valid_{primary}" in history:
        return f"valid_{primary}"
    return next((c for c in history if c.startswith("valid_")), None)


def plot_curves(curves: list[tuple[str, dict[str, np.ndarray]]], primary: str, path: Path,
                title: str | None, ranking: str = "") -> str | None:
    """Validation metric per epoch of every (legend label, history); the best epoch is marked.
    `ranking` (e.g. `sampled-100, uniform`) labels the axis when every run validated so."""
    figure = new_figure(7.0, 4.5)
    axes = figure.add_subplot()
    drawn = 0
    for label, history in curves:
        column = history_column(history, primary)
        if column is None:
            log(f"'{label}' has no validation history; left out of the training curves")
            continue
        epochs = np.asarray(history["epoch"], dtype=np.float64)
        values = np.asarray(history[column], dtype=np.float64)
        if column != f"valid_{primary}":
            label += f" [{column.removeprefix('valid_')}]"
        (line,) = axes.plot(epochs, values, marker=".", label=label)
        if np.isfinite(values).any():
            best = int(np.nanargmax(values))
            axes.plot(epochs[best], values[best], "*", markersize=12, color=line.get_color())
        drawn += 1
    if not drawn:
        return None
    from matplotlib.ticker import MaxNLocator

    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel("epoch")
    axes.set_ylabel(f"valid {labelled(primary, ranking)}")
    axes.set_title(f"Validation {primary} per epoch (★ = best)", fontsize=11)
    axes.legend(fontsize=8)
    if title:
        figure.suptitle(title)
    return save(figure, path)
