"""Dense symmetric eigensolver for D×D Gram matrices: all eigenvalues, only the top-k vectors."""

from __future__ import annotations

import numpy as np
from scipy import linalg
from scipy.linalg import lapack

from specrec.errors import SpecrecError


def eigen_of_gram(
    gram: np.ndarray, top: int | None, *, overwrite: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """All eigenvalues (descending) and the top-`top` eigenvectors (all when None) of a symmetric
    matrix. Top-k: one Householder tridiagonalisation, all values from it (dsterf), k vectors by
    MRRR (dstemr) and a blocked back-transform; the full eigh is used when every vector is needed.
    `overwrite` lets LAPACK work in `gram`'s memory (its contents are then destroyed).
    """
    dim = gram.shape[0]
    if top is None or top >= dim // 2 or dim < 64:
        values, vectors = linalg.eigh(gram, check_finite=False, overwrite_a=overwrite)
        m = dim if top is None else top
        return values[::-1].copy(), vectors[:, ::-1][:, :m].copy()
    lwork, _ = lapack.dsytrd_lwork(dim, lower=1)
    # gram is symmetric: its transpose is the same matrix in Fortran order (no copy).
    work = gram.T if overwrite else np.array(gram, order="F")
    packed, diag, off, tau, info = lapack.dsytrd(
        np.asfortranarray(work), lower=1, lwork=int(lwork), overwrite_a=1
    )
    if info != 0:
        raise SpecrecError(
            f"eigendecomposition failed (LAPACK dsytrd info {info}); check the input"
        )
    values = linalg.eigvalsh_tridiagonal(diag, off, lapack_driver="sterf")[::-1].copy()
    if top == 0:
        return values, np.zeros((dim, 0))
    _, z = linalg.eigh_tridiagonal(
        diag, off, select="i", select_range=(dim - top, dim - 1), lapack_driver="stemr"
    )
    _apply_householder(packed, tau, z)
    return values, z[:, ::-1].copy()


def _apply_householder(packed: np.ndarray, tau: np.ndarray, z: np.ndarray, block: int = 64) -> None:
    """z ← Q z for Q = H₀H₁…H_{n−2} from dsytrd(lower): Hᵢ = I − τᵢvᵢvᵢᵀ, vᵢ = (0…0, 1, A[i+2:, i]).

    Each block of reflectors is applied as I − V T Vᵀ (compact WY), last block first, with
    T⁻¹ = diag(1/τ) + strictly-upper(VᵀV) (the "UT transform"; τᵢ = 0 reflectors drop out).
    """
    n = packed.shape[0]
    for first in range(((n - 2) // block) * block, -1, -block):
        last = min(first + block, n - 1)
        width = last - first
        vecs = np.tril(packed[first + 1 :, first:last], -1)
        vecs[np.arange(width), np.arange(width)] = 1.0
        taus = tau[first:last]
        vecs[:, taus == 0] = 0.0
        inverse_t = np.triu(vecs.T @ vecs, 1)
        inverse_t[np.diag_indices(width)] = 1.0 / np.where(taus == 0, 1.0, taus)
        t = linalg.solve_triangular(inverse_t, np.eye(width), check_finite=False)
        sub = z[first + 1 :]
        sub -= vecs @ (t @ (vecs.T @ sub))
