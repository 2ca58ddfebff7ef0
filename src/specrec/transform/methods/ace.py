"""ACE (SIGIR'26): linear-autoencoder shrinkage of E's singular values; λ controls anisotropy."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from specrec.errors import SpecrecError
from specrec.transform.base import (
    SOLVER,
    TRANSFORMS,
    Option,
    Transform,
    TransformInput,
    TransformResult,
    boolean,
    optional,
    real,
)
from specrec.transform.diagnostics import describe
from specrec.transform.spectral import decompose, scores

AUTO = "auto"


def parse_lambda(value: Any) -> float | str | tuple[float, ...]:
    """A number >= 0, "auto", or a sweep: a list / comma-separated string ("0,1,5,10,50")."""
    if isinstance(value, str) and value.strip().lower() == AUTO:
        return AUTO
    if isinstance(value, str) and "," in value:
        value = [part for part in value.split(",") if part.strip()]
    if isinstance(value, (list, tuple)):
        grid = tuple(real(0.0)(v) for v in value)
        if not grid or len(set(grid)) != len(grid):
            raise ValueError("a λ sweep needs distinct values, e.g. 0,1,5,10,50")
        return grid
    return real(0.0)(value)


def shrinkage(sigma: np.ndarray, lam: float) -> np.ndarray:
    """g_λ(σ) = σ / sqrt(σ² + λ) (paper Eq. 6): 1 at λ = 0, ≈ σ/√λ for λ ≫ σ²."""
    return sigma / np.sqrt(sigma**2 + lam)


def shrunk_effective_rank(sigma_sq: np.ndarray, lam: float) -> float:
    """Effective rank of the table's normalised spectrum pᵢ ∝ σᵢ²/(σᵢ²+λ): exp(−Σ pᵢ log pᵢ)."""
    weight = sigma_sq / (sigma_sq + lam)
    p = weight / weight.sum()
    p = p[p > 0]
    return float(np.exp(-(p * np.log(p)).sum()))


def solve_lambda(sigma_sq: np.ndarray, target: float) -> float:
    """λ with shrunk_effective_rank(σ², λ) = target, by bisection on log λ (it falls with λ).

    Reachable targets lie between the effective rank of σ₁²…σ_k² itself (λ → ∞) and k (λ = 0).
    """
    k = len(sigma_sq)
    floor = shrunk_effective_rank(sigma_sq, float(sigma_sq[0]) * 1e15)
    if target >= k:
        if target == k:
            return 0.0
        raise SpecrecError(
            f"--target-erank {target:g} exceeds the table dim {k}; choose at most {k}"
        )
    if target <= floor:
        raise SpecrecError(
            f"--target-erank {target:g} is out of reach: on these embeddings the k={k} ACE table "
            "has "
            f"effective rank from {floor:.3f} (λ → ∞) to {k} (λ = 0); pick a target in between"
        )
    lo = math.log(float(sigma_sq[-1])) - 30.0
    hi = math.log(float(sigma_sq[0])) + 30.0
    while hi - lo > 1e-10:
        mid = 0.5 * (lo + hi)
        if shrunk_effective_rank(sigma_sq, math.exp(mid)) > target:
            lo = mid
        else:
            hi = mid
    return math.exp(0.5 * (lo + hi))


@TRANSFORMS.register("ace")
class ACE(Transform):
    """E_ACE^(k) = U_k g_λ(S_k) γ from the SVD E = U S Vᵀ (uncentred unless `center`), fusion init.

    g_λ(σ) = σ/√(σ²+λ); γ is one global scalar setting the std of all entries of rows 1..N to
    `std`. Its operator U_k diag(σ²/(σ²+λ)) U_kᵀ is the LAE solution (EEᵀ+λI)⁻¹EEᵀ restricted to
    the top k directions (paper Eq. 7). λ = 0 gives U_k (flat spectrum); λ ≫ σ² gives ∝ E V_k.
    λ is on the scale of σᵢ², which grows with N and with the row norms. The defaults λ = 50 and
    std 0.1 are those of the authors' released code (`reg_weight`, `scale` in its run.sh).
    `lambda` "auto" (ours) picks λ so that the table's effective rank (of pᵢ ∝ σᵢ²/(σᵢ²+λ))
    equals `target_erank` (default k/2); a list writes one artifact per λ from a single SVD.
    """

    name = "ace"
    options = (
        Option("lambda", 50.0, parse_lambda, "λ >= 0, 'auto', or a sweep '0,1,5,10,50'"),
        Option("std", 0.1, real(0.0, strict=True), "std of all table entries after γ"),
        Option("center", False, boolean, "SVD of the centred Ē instead of E (the paper: no)"),
        Option("target_erank", None, optional(real(0.0, strict=True)), "for lambda auto"),
        SOLVER,
    )

    def variants(self, params: dict, dim: int) -> list[tuple[str | None, dict]]:
        lam = params["lambda"]
        if lam != AUTO and params["target_erank"] is not None:
            raise SpecrecError("--target-erank applies only with --lambda auto")
        if lam == AUTO:
            target = params["target_erank"] or dim / 2.0
            return [(None, {**params, "target_erank": float(target)})]
        if isinstance(lam, tuple):
            return [(f"lambda-{v:g}", {**params, "lambda": v}) for v in lam]
        return [(None, params)]

    def fit(self, source: TransformInput, variants: list[dict]) -> list[TransformResult]:
        k, first = source.dim, variants[0]
        eig = decompose(
            source.embeddings,
            center=first["center"],
            top=k,
            solver=first["solver"],
            seed=source.seed,
        )
        eig.require_rank(k)
        sigma = eig.singular_values[:k]
        projected = scores(source.embeddings, eig, eig.vectors[:, :k])  # = U_k S_k
        source.log(
            f"ace: λ acts on the scale of σᵢ²: σ₁² = {sigma[0] ** 2:.4g}, "
            f"σ_{k}² = {sigma[-1] ** 2:.4g}"
        )
        return [self._table(source, eig, projected, sigma, params) for params in variants]

    def _table(self, source, eig, projected, sigma, params: dict) -> TransformResult:
        lam = params["lambda"]
        if lam == AUTO:
            lam = solve_lambda(sigma**2, params["target_erank"])
            source.log(
                f"ace: lambda auto -> λ = {lam:.6g} "
                f"(target effective rank {params['target_erank']:g})"
            )
        table = projected * (shrinkage(sigma, lam) / sigma)  # U_k g_λ(S_k)
        spread = float(np.std(table[1:]))
        gamma = params["std"] / spread if spread > 0 else 1.0
        table *= gamma
        stats = {
            "lambda_value": float(lam),
            "gamma": float(gamma),
            "rank": eig.rank,
            "solver": eig.solver,
            "sigma_sq_max": float(sigma[0] ** 2),
            "sigma_sq_k": float(sigma[-1] ** 2),
            "shrunk_effective_rank": shrunk_effective_rank(sigma**2, lam),
        }
        return TransformResult(
            fusion="init",
            item_table=table,
            diagnostics=describe(eig, table),
            params={"lambda_value": float(lam), "gamma": float(gamma)},
            stats=stats,
        )
