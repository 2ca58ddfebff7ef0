"""Dense symmetric eigensolver for D×D Gram matrices: all eigenvalues, only the top-k vectors."""

from __future__ import annotations

import numpy as np
from scipy import linalg
from scipy.linalg import get_lapack_funcs, lapack

from specrec.errors import SpecrecError
from specrec.transform.chebyshev import block_width, filtered_top


def eigen_of_gram(
    gram: np.ndarray, top: int | None, *, overwrite: bool = False, fast: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """All eigenvalues (descending) and the top-`top` eigenvectors (all when None) of a symmetric
    matrix. Top-k: one Householder tridiagonalisation, all values from it (dsterf), k vectors by
    MRRR (dstemr) and LAPACK's back-transform (ormqr); the full eigh when every vector is needed.
    `overwrite` lets LAPACK work in `gram`'s memory (its contents are then destroyed).

    `fast` (top-k only; the `mixed` solver): the same route in float32 (ssytrd, ssterf for all
    values within a few float32 ε of λ₁, sstemr for 2k + 16 vectors), then those vectors refined
    on the float64 matrix by Chebyshev-filtered subspace iteration (`chebyshev.filtered_top`,
    residuals ≤ 1e-11 λ₁), whose Ritz values replace the top k; the float64 route when that
    would not converge cheaply.
    """
    dim = gram.shape[0]
    if fast and top is not None and 0 < top < dim // 2 and dim >= 64:
        values, start = _single_precision_eigen(gram, block_width(top, dim))
        found = filtered_top(gram, values, top, start=start)
        if found is not None:
            values[:top] = found[0]
            return values, found[1]
    if top is None or top >= dim // 2 or dim < 64:
        values, vectors = linalg.eigh(gram, check_finite=False, overwrite_a=overwrite)
        m = dim if top is None else top
        return values[::-1].copy(), vectors[:, ::-1][:, :m].copy()
    lwork, _ = lapack.dsytrd_lwork(dim, lower=1)
    # gram is symmetric: a C-ordered one is its own transpose in Fortran order (no copy).
    work = gram if gram.flags.f_contiguous else gram.T
    if not overwrite:
        work = work.copy(order="F")
    packed, diag, off, tau, info = lapack.dsytrd(work, lower=1, lwork=int(lwork), overwrite_a=1)
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
    return values, _back_transform(packed, tau, z)[:, ::-1].copy()


def _single_precision_eigen(gram: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """From a float32 copy of `gram` (ssytrd): all eigenvalues (ssterf; descending, as float64)
    and the top-`width` eigenvectors (sstemr, back-transformed; float32 accuracy, descending)."""
    dim = gram.shape[0]
    lwork, _ = lapack.ssytrd_lwork(dim, lower=1)
    single = np.asfortranarray(gram, dtype=np.float32)
    packed, diag, off, tau, info = lapack.ssytrd(single, lower=1, lwork=int(lwork), overwrite_a=1)
    if info != 0:
        raise SpecrecError(
            f"eigendecomposition failed (LAPACK ssytrd info {info}); check the input"
        )
    values = linalg.eigvalsh_tridiagonal(diag, off, lapack_driver="sterf", check_finite=False)
    _, z = linalg.eigh_tridiagonal(
        diag, off, select="i", select_range=(dim - width, dim - 1), lapack_driver="stemr",
        check_finite=False,
    )
    return values[::-1].astype(np.float64), _back_transform(packed, tau, z)[:, ::-1]


def _back_transform(packed: np.ndarray, tau: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Q z for the Q = H₀H₁…H_{n−2} of dsytrd(lower), whose reflector i is stored below the
    subdiagonal of column i: LAPACK's ormqr on those columns and rows 1.. of z (what ormtr does)."""
    ormqr = get_lapack_funcs("ormqr", (packed,))
    reflectors, rows = packed[1:, :-1], np.asfortranarray(z[1:])
    work = ormqr("L", "N", reflectors, tau, rows, lwork=-1)[1]
    product, _, info = ormqr("L", "N", reflectors, tau, rows, lwork=int(work[0]), overwrite_c=1)
    if info != 0:
        raise SpecrecError(f"eigenvector back-transform failed (LAPACK ormqr info {info})")
    return np.vstack([z[:1], product])
