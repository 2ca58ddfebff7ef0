"""Anisotropy diagnostics of a transform's input and output: spectra, effective rank, cosine."""

from __future__ import annotations

import numpy as np
from rich.table import Table

from specrec.transform.gram import mean_cosine
from specrec.transform.spectral import Eigen, below_rank_zeroed, numerical_rank

TOP = 10
STATS_SPECTRUM = 16
"""How many leading singular values meta.json stats keep (table.h5 keeps them all)."""


def normalized_spectrum(singular_values: np.ndarray, total: float | None = None) -> np.ndarray:
    """pᵢ = σᵢ² / Σⱼσⱼ² (`total` = Σσⱼ² over the whole spectrum when only a prefix is known)."""
    power = np.asarray(singular_values, dtype=np.float64) ** 2
    total = float(power.sum()) if total is None else float(total)
    return power / total if total > 0 else np.zeros_like(power)


def effective_rank(
    singular_values: np.ndarray, total: float | None = None, length: int | None = None
) -> float:
    """erank = exp(−Σ pᵢ log pᵢ), pᵢ = σᵢ²/Σσ² (Roy & Vetterli 2007): 1 for one direction, k for k
    equal ones. For a truncated spectrum (`total` > Σ known σ²) the missing mass is spread evenly
    over the `length` − known unknown directions: the largest entropy consistent with what is
    known, so the result is an upper bound.
    """
    p = normalized_spectrum(singular_values, total)
    p = p[p > 0]
    entropy = float(-(p * np.log(p)).sum())
    missing = 1.0 - float(p.sum())
    unknown = (length or 0) - len(singular_values)
    if total is not None and missing > 1e-12 and unknown > 0:
        q = missing / unknown
        entropy -= unknown * q * np.log(q)
    return float(np.exp(entropy))


def top_share(singular_values: np.ndarray, total: float | None = None, top: int = TOP) -> float:
    """Share of variance (σ²) in the `top` leading directions."""
    return float(normalized_spectrum(singular_values, total)[:top].sum())


def table_spectrum(table: np.ndarray, centered: bool) -> np.ndarray:
    """Singular values (descending) of the table's rows 1..N, column-centred when `centered`;
    those below its numerical rank (`numerical_rank`, ε of the table's dtype) are exactly 0."""
    eps = float(np.finfo(table.dtype if table.dtype.kind == "f" else np.float64).eps)
    x = np.asarray(table[1:], dtype=np.float64)
    if centered:
        x = x - x.mean(axis=0)
    if x.shape[1] <= x.shape[0]:
        values = np.linalg.eigvalsh(x.T @ x)[::-1]
    else:
        values = np.linalg.svd(x, compute_uv=False) ** 2
    return np.sqrt(below_rank_zeroed(values, numerical_rank(values, x.shape, eps)))


def describe(eig: Eigen, table: np.ndarray) -> dict[str, np.ndarray | float]:
    """The `/diagnostics` of one output: input = the matrix `eig` decomposed, output = the table.

    Both spectra use the same centring (`centered`): the centred one for every method except
    ACE with `center` False, whose SVD is of the raw E. Mean cosines are of the raw rows.
    """
    before = eig.singular_values
    after = table_spectrum(table, eig.centered)
    # a zero among the known values: the numerical rank is reached, the unknown tail is 0 too
    complete = eig.complete or eig.rank < len(before)
    total = None if complete else eig.trace
    length = min(eig.n - int(eig.centered), len(eig.mean))
    return {
        "input_singular_values": before,
        "output_singular_values": after,
        "input_normalized_spectrum": normalized_spectrum(before, total),
        "output_normalized_spectrum": normalized_spectrum(after),
        "input_mean_cosine": eig.mean_cosine,
        "output_mean_cosine": mean_cosine(table[1:]),
        "input_effective_rank": effective_rank(before, total, length),
        "output_effective_rank": effective_rank(after),
        "input_top10_share": top_share(before, total),
        "output_top10_share": top_share(after),
        "input_sigma_ratio": _ratio(before, len(after)),
        "output_sigma_ratio": _ratio(after, len(after)),
        "centered": float(eig.centered),
        "input_spectrum_complete": float(complete),
    }


def _ratio(singular_values: np.ndarray, k: int) -> float:
    """σ₁/σ_k over the first k values (the spread a k-dim table inherits); inf when σ_k = 0,
    i.e. k exceeds the numerical rank (meta.json stats record it as null)."""
    s = np.asarray(singular_values)[:k]
    return float(s[0] / s[-1]) if len(s) and s[-1] > 0 else float("inf")


def summary(diagnostics: dict[str, np.ndarray | float]) -> dict:
    """What meta.json stats keep: every scalar and the leading singular values of each spectrum."""
    out: dict = {}
    for name, value in diagnostics.items():
        if np.ndim(value) == 0:
            out[name] = float(value) if np.isfinite(value) else None
        elif name.endswith("singular_values"):
            out[name] = [float(v) for v in np.asarray(value)[:STATS_SPECTRUM]]
    return out


ROWS = (
    ("mean pairwise cosine", "mean_cosine", "{:.4f}"),
    ("effective rank", "effective_rank", "{:.2f}"),
    (f"top-{TOP} variance share", "top10_share", "{:.4f}"),
    ("σ₁/σ_k (k = table dim)", "sigma_ratio", "{:.3g}"),
)


def comparison_table(outputs: list[tuple[str, dict]]) -> Table:
    """A rich table: the input, then one column per output (label, meta stats diagnostics)."""
    first = outputs[0][1]
    spectrum = "centred" if first.get("centered", 1.0) else "uncentred"
    complete = "" if first.get("input_spectrum_complete", 1.0) else " (input: top-k only)"
    table = Table(title=f"anisotropy before vs after ({spectrum} spectra{complete})")
    table.add_column("")
    table.add_column("input", justify="right")
    for label, _ in outputs:
        table.add_column(label, justify="right")
    for title, key, fmt in ROWS:
        cells = [_cell(first, f"input_{key}", fmt)]
        cells += [_cell(diag, f"output_{key}", fmt) for _, diag in outputs]
        table.add_row(title, *cells)
    return table


def _cell(diag: dict, key: str, fmt: str) -> str:
    value = diag.get(key)
    if isinstance(value, list):
        value = value[0] if value else None
    return "-" if value is None else fmt.format(value)
