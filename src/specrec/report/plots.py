"""Report figures (matplotlib, Agg canvas, no display): spectra, diagnostics, training curves."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from specrec.console import log
from specrec.report.inputs import Transform
from specrec.report.settings import join_label, lambda_of, lambda_text
from specrec.report.tables import transform_labels, transform_parts

DPI = 120


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure, path: Path) -> str:
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
    figure = _figure(6.0, 4.0)
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
    return _save(figure, path)


def _raw_key(transform: Transform, values: np.ndarray) -> str:
    """Identity of the input embeddings: the embeddings fingerprint, else the spectrum itself."""
    for ref in transform.meta.inputs.values():
        if isinstance(ref, dict) and ref.get("kind") == "embeddings" and ref.get("fingerprint"):
            return str(ref["fingerprint"])
    return values.tobytes().hex()[:64] + str(len(values))


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


def plot_normalised_spectra(transforms: list[Transform], path: Path, title: str | None) -> str:
    """ACE Fig. 2 style: σ_i / σ_1 of the raw embeddings and of every table on one log axis.

    Each table is drawn beside the raw spectrum it is comparable with: centred (dashed) for the
    methods that centre, uncentred (dotted) for ACE without `center`."""
    from matplotlib import colormaps

    figure = _figure(7.0, 4.5)
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
    return _save(figure, path)


def _embeddings_name(transform: Transform) -> str:
    for ref in transform.meta.inputs.values():
        if isinstance(ref, dict) and ref.get("kind") == "embeddings" and ref.get("path"):
            return Path(str(ref["path"])).name
    return "input"


def plot_diagnostics(transforms: list[Transform], columns: list[str], path: Path,
                     title: str | None) -> str:
    """One horizontal bar chart per scalar diagnostic: raw input (`_before`) vs each table."""
    stems = [c[: -len("_before")] for c in columns if c.endswith("_before")]
    singles = [c for c in columns if not c.endswith(("_before", "_after"))]
    panels = [*stems, *singles]
    ordered = _ordered(transforms)
    labels_of = dict(zip(map(id, transforms), transform_labels(transforms)))
    height = 1.0 + 0.3 * (len(ordered) + 1)
    figure = _figure(5.0 * min(len(panels), 3), height * ((len(panels) + 2) // 3))
    for p, name in enumerate(panels):
        axes = figure.add_subplot((len(panels) + 2) // 3, min(len(panels), 3), p + 1)
        labels, values, colors = [], [], []
        if name in stems:
            raw: dict[float, str] = {}
            for t in ordered:
                if f"{name}_before" in t.scalars:
                    raw.setdefault(t.scalars[f"{name}_before"], _embeddings_name(t))
            for value, source in raw.items():
                labels.append(f"raw ({source})")
                values.append(value)
                colors.append("0.5")
        key = f"{name}_after" if name in stems else name
        for t in ordered:
            if key in t.scalars:
                labels.append(labels_of[id(t)])
                values.append(t.scalars[key])
                colors.append("tab:blue")
        positions = np.arange(len(values))
        axes.barh(positions, values, color=colors)
        axes.set_yticks(positions, labels, fontsize=8)
        axes.invert_yaxis()
        axes.set_title(name, fontsize=10)
    if title:
        figure.suptitle(title)
    return _save(figure, path)


def history_column(history: dict[str, np.ndarray], primary: str) -> str | None:
    """`valid_<primary>` when the history has it, else its first `valid_` column, else None."""
    if f"valid_{primary}" in history:
        return f"valid_{primary}"
    return next((c for c in history if c.startswith("valid_")), None)


def plot_curves(curves: list[tuple[str, dict[str, np.ndarray]]], primary: str, path: Path,
                title: str | None) -> str | None:
    """Validation metric per epoch of every (legend label, history); the best epoch is marked."""
    figure = _figure(7.0, 4.5)
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
    axes.set_ylabel(f"valid {primary}")
    axes.set_title(f"Validation {primary} per epoch (★ = best)", fontsize=11)
    axes.legend(fontsize=8)
    if title:
        figure.suptitle(title)
    return _save(figure, path)
