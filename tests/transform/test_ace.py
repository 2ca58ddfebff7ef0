"""ACE: the table, its LAE operator, the λ limits, sweeps and the automatic λ."""

from __future__ import annotations

import numpy as np
import pytest
from bounds import (
    EPS64,
    U32,
    dot_bound,
    erank_tolerance,
    float32_projection_error,
    gram_eig_error,
    gram_sv_tolerance,
    pca_bound,
    perturbed_product,
    randomized_promise,
    ritz_bounds,
    scores_bound,
    whitened_tolerance,
    within,
)
from transform_synthetic import anisotropic

from specrec.embed.store import open_embeddings
from specrec.errors import SpecrecError
from specrec.transform import spectral
from specrec.transform.diagnostics import effective_rank, table_spectrum
from specrec.transform.methods import ace
from specrec.transform.store import read_table
from specrec.transform.transform import transform

K = 6


def _ace(emb, out, dim=K, **params):
    return transform(method="ace", embeddings=emb, out=out, dim=dim, params=params)


def _align(actual, expected):
    return actual * np.sign(np.sum(actual * expected, axis=0))


def _shrinkage_bound(matrix, lam, center=False, k=K):
    """(g, per-column relative error of the table's scale g(σ̂)/σ̂): its log-derivative in σ is
    −σ²/(σ² + λ) ∈ (−1, 0], so the scale moves by ≤ |δσ|/σ (`gram_sv_tolerance`)."""
    x = matrix - matrix.mean(axis=0) if center else matrix
    s = np.linalg.svd(x, compute_uv=False)
    error = gram_sv_tolerance(s, max(matrix.shape), gram_eig_error(matrix, center))
    return s[:k] / np.sqrt(s[:k] ** 2 + lam), error[:k] / s[:k], s


def _spectrum_bound(matrix, lam, stored=True, k=K):
    """(g/g₁, relative error of each singular value of an uncentred ACE table over the first):
    T = Û diag(ĝ)γ with ÛᵀÛ = I + M (`whitened_tolerance`, ‖M‖₂ ≤ k·max|M|), so σᵢ(T)² is within
    g₁²‖M‖ of ĝᵢ²; ĝ within the scale's error; float32 storage ‖δT‖₂ ≤ U32·‖T‖_F; the spectrum's
    own Gram route n·ε·‖T‖_F²/σᵢ (`table_spectrum`)."""
    g, scale, s = _shrinkage_bound(matrix, lam, k=k)
    m = k * whitened_tolerance(s[:k] ** 2, gram_eig_error(matrix, False), matrix.shape[1]).max()
    frob = np.sqrt(np.sum(g**2))
    rel = scale + (g[0] / g) ** 2 * m + len(matrix) * EPS64 * frob**2 / g**2
    if stored:
        rel = rel + U32 * frob / g
    return g / g[0], rel + rel[0]


def test_table_is_u_k_times_shrinkage_times_gamma(emb_path, matrix, tmp_path):
    meta = _ace(emb_path, tmp_path / "t", **{"lambda": 50.0})
    u, s, _ = np.linalg.svd(matrix, full_matrices=False)  # uncentred, as in the paper
    gamma = meta.stats["gamma"]
    g, rel, _ = _shrinkage_bound(matrix, 50.0)
    expected = u[:, :K] * g * gamma
    table = read_table(tmp_path / "t").item_table[1:].astype(np.float64)
    bound = pca_bound(matrix, K, center=False, scale=g / s[:K] * gamma, relative=rel)
    within(_align(table, expected), expected, bound)
    # one global γ sets the float64 table's std; float32 storage moves it by ≤ U32·rms (std is
    # 1-Lipschitz in the rms), np.std's own sums (m + 4)·ε twice
    rms = float(np.sqrt(np.mean(table**2)))
    within(np.std(table), 0.1, U32 * rms + 2 * (table.size + 4) * EPS64 * rms)  # default std
    assert meta.stats["lambda_value"] == 50.0


def test_center_option_uses_the_centred_svd(emb_path, matrix, tmp_path):
    _ace(emb_path, tmp_path / "t", **{"lambda": 5.0, "center": True, "std": 1.0})
    u, s, _ = np.linalg.svd(matrix - matrix.mean(axis=0), full_matrices=False)
    g, rel, _ = _shrinkage_bound(matrix, 5.0, center=True)
    expected = u[:, :K] * g
    spread = float(np.std(expected))
    before = pca_bound(matrix, K, scale=g / s[:K], relative=rel)  # as the table before γ
    # each side normalised by its own std: γ's relative error ≤ rms(bound)/std (+ np.std's)
    gamma = float(np.sqrt(np.mean(before**2))) / spread + 2 * (expected.size + 4) * EPS64
    expected /= spread
    table = read_table(tmp_path / "t").item_table[1:].astype(np.float64)
    within(_align(table, expected), expected, before / spread + np.abs(expected) * gamma)


@pytest.mark.parametrize("shape", [(30, 8), (10, 16)])  # N >= D (Gram) and N < D (N×N path)
@pytest.mark.parametrize("lam", [0.3, 7.0])
def test_operator_is_the_lae_solution(make_embeddings, tmp_path, shape, lam):
    matrix = np.random.default_rng(1).standard_normal(shape).astype(np.float32).astype(np.float64)
    rank = min(shape)
    meta = _ace(make_embeddings(matrix), tmp_path / "t", dim=rank, **{"lambda": lam})
    table = read_table(tmp_path / "t").item_table[1:].astype(np.float64) / meta.stats["gamma"]
    gram = matrix @ matrix.T
    lae = np.linalg.solve(gram + lam * np.eye(shape[0]), gram)  # (EEᵀ+λI)⁻¹EEᵀ
    # ours: TTᵀ = X(Ĝ + λ)⁻¹Xᵀ, or f(K + E) for f(x) = x/(x + λ) on the N×N route: ≤ 3δ/λ
    # (+ δ²/(σ_k²λ)) from the Gram's δ; V̂ within D·ε of orthonormal; stored float32, /γ
    s = np.linalg.svd(matrix, compute_uv=False)[:rank]
    delta = gram_eig_error(matrix, False)
    ours = 3 * delta / lam + delta**2 / (s[-1] ** 2 * lam)
    ours += 2 * shape[1] * EPS64 * s[0] ** 2 / (s[-1] ** 2 + lam)
    moved = (U32 + EPS64) * np.abs(table)
    ours = ours + perturbed_product(table, moved, table.T, moved.T) + dot_bound(table, table.T)
    # the reference: EEᵀ off by γ_D|E||E|ᵀ (through f: /λ), the solve by cond·N·ε (LU)
    made = np.linalg.norm(dot_bound(matrix, matrix.T), 2) / lam
    eig = np.linalg.eigvalsh(gram)
    cond = (eig[-1] + lam) / (max(eig[0], 0.0) + lam)
    within(table @ table.T, lae, ours + made + cond * shape[0] * EPS64)


def test_lambda_zero_flattens_the_spectrum(emb_path, matrix, tmp_path):
    _ace(emb_path, tmp_path / "t", **{"lambda": 0})
    spectrum = table_spectrum(read_table(tmp_path / "t").item_table, centered=False)
    flat, rel = _spectrum_bound(matrix, 0.0)
    within(spectrum / spectrum[0], flat, rel)
    _ace(emb_path, tmp_path / "m", **{"lambda": 50})
    moderate = table_spectrum(read_table(tmp_path / "m").item_table, centered=False)
    shaped, rel = _spectrum_bound(matrix, 50.0)
    within(moderate / moderate[0], shaped, rel)
    assert shaped[-1] + rel[-1] < 0.5  # g_λ(σ_k)/g_λ(σ₁): far from flat


def test_large_lambda_gives_uncentred_pca_scores(emb_path, matrix, tmp_path):
    _, s, vt = np.linalg.svd(matrix, full_matrices=False)
    scores = matrix @ vt[:K].T  # E V_k
    # λ ≫ σ₁²: g_λ(σ)/σ = λ^{-1/2}(1 − σ²/2λ + …), so the table is ∝ E V_k to σ₁²/2λ, plus its
    # own error against U_k S_k (`pca_bound`, relative to the table's norm)
    error = np.linalg.norm(pca_bound(matrix, K, center=False)) / np.linalg.norm(scores)
    tol = error + s[0] ** 2 / (2 * 1e12)
    for lam, proportional in ((1e12, True), (10.0, False)):
        _ace(emb_path, tmp_path / f"t{lam}", **{"lambda": lam})
        table = _align(read_table(tmp_path / f"t{lam}").item_table[1:].astype(np.float64), scores)
        c = np.sum(table * scores) / np.sum(scores * scores)
        residual = np.linalg.norm(table - c * scores) / np.linalg.norm(table)
        assert bool(residual <= tol) == proportional, (lam, residual, tol)


def test_sweep_writes_one_artifact_per_lambda_from_one_svd(emb_path, tmp_path, monkeypatch):
    calls = []
    real_decompose = ace.decompose
    monkeypatch.setattr(
        ace, "decompose", lambda *a, **kw: calls.append(1) or real_decompose(*a, **kw)
    )
    metas = _ace(emb_path, tmp_path / "sweep", **{"lambda": "0,1,5,10,50"})
    assert len(calls) == 1
    assert [m.config["lambda"] for m in metas] == [0.0, 1.0, 5.0, 10.0, 50.0]
    written = sorted(p.name for p in (tmp_path / "sweep").iterdir() if not p.name.startswith("."))
    assert written == sorted(["lambda-0", "lambda-1", "lambda-5", "lambda-10", "lambda-50"])
    single = _ace(emb_path, tmp_path / "single", **{"lambda": 5})
    member = read_table(tmp_path / "sweep" / "lambda-5")
    assert member.meta.fingerprint == single.fingerprint  # same config as a one-λ run
    np.testing.assert_array_equal(member.item_table, read_table(tmp_path / "single").item_table)
    tables = [read_table(tmp_path / "sweep" / f"lambda-{v}").item_table for v in (0, 50)]
    assert np.any(np.abs(tables[0] - tables[1]) > U32 * (np.abs(tables[0]) + np.abs(tables[1])))


def test_sweep_accepts_a_python_list(emb_path, tmp_path):
    metas = _ace(emb_path, tmp_path / "s", **{"lambda": [0.5, 2]})
    assert [m.stats["lambda_value"] for m in metas] == [0.5, 2.0]
    assert (tmp_path / "s" / "lambda-0.5" / "meta.json").is_file()


def test_auto_lambda_reaches_the_target_effective_rank(emb_path, matrix, tmp_path):
    meta = _ace(emb_path, tmp_path / "t", **{"lambda": "auto", "target_erank": 4.0})
    table = read_table(tmp_path / "t")
    lam = meta.stats["lambda_value"]
    assert table.params["lambda"] == "auto" and table.params["lambda_value"] == lam
    assert 0 < lam < 1e6
    spectrum = table_spectrum(table.item_table, centered=False)
    # λ solved to 1e-10 in log λ (`_solved`), the table's spectrum within `_spectrum_bound`
    rel = _spectrum_bound(matrix, lam)[1].max()
    within(effective_rank(spectrum), 4.0, erank_tolerance(4.0, K, rel) + _solved(4.0, K))
    default = _ace(emb_path, tmp_path / "d", **{"lambda": "auto"})  # target k/2 by default
    assert default.config["target_erank"] == K / 2
    rel = _spectrum_bound(matrix, default.stats["lambda_value"], stored=False)[1].max()
    erank = default.stats["diagnostics"]["output_effective_rank"]  # of the float64 table
    within(erank, K / 2, erank_tolerance(K / 2, K, rel) + _solved(K / 2, K))


def _solved(target: float, k: int) -> float:
    """|erank(λ) − target| after `solve_lambda`: the root lies in the final [lo, hi] of width
    1e-10 in log λ, |d erank/d log λ| ≤ k(1 + log k) (each log wᵢ moves by ≤ 1 per log λ), and
    each evaluation is off by e = `erank_tolerance(target, k, 0)`: k(1 + log k)·1e-10 + 3e."""
    return k * (1 + np.log(k)) * 1e-10 + 3 * erank_tolerance(target, k, 0.0)


def test_solve_lambda_is_monotone_and_bounded():
    sigma_sq = np.array([100.0, 30.0, 10.0, 3.0, 1.0, 0.3])
    targets = (2.5, 3.0, 4.0, 5.0, 5.9)
    ranks = [ace.solve_lambda(sigma_sq, t) for t in targets]
    assert ranks == sorted(ranks, reverse=True)  # a flatter target needs a smaller λ
    for target, lam in zip(targets, ranks):
        within(ace.shrunk_effective_rank(sigma_sq, lam), target, _solved(target, 6))
    assert ace.solve_lambda(sigma_sq, 6.0) == 0.0
    with pytest.raises(SpecrecError, match="from 2.444"):  # erank of σ² itself (λ → ∞)
        ace.solve_lambda(sigma_sq, 2.4)
    with pytest.raises(SpecrecError, match="exceeds the table dim"):
        ace.solve_lambda(sigma_sq, 7.0)


def test_bad_lambda_values(emb_path, tmp_path):
    for bad, match in (
        (-1, ">= 0"),
        ("0,1,1", "distinct"),
        ("nan", "finite"),
        ("lots", "could not convert"),
    ):
        with pytest.raises(SpecrecError, match=match):
            _ace(emb_path, tmp_path / "t", **{"lambda": bad})
    with pytest.raises(SpecrecError, match="only with --lambda auto"):
        _ace(emb_path, tmp_path / "t", **{"lambda": 1.0, "target_erank": 3})
    with pytest.raises(SpecrecError, match=r"--std 0 .*must be > 0"):
        _ace(emb_path, tmp_path / "t", std=0)
    assert not (tmp_path / "t").exists()


def test_randomized_solver_matches_exact_on_a_decaying_spectrum(make_embeddings, tmp_path):
    matrix = anisotropic(400, 48, seed=2, decay=2.0)
    emb = make_embeddings(matrix)
    exact = _ace(emb, tmp_path / "e", **{"lambda": 1.0})
    fast = _ace(emb, tmp_path / "r", **{"lambda": 1.0, "solver": "randomized"})
    a = read_table(tmp_path / "e").item_table.astype(np.float64)
    b = read_table(tmp_path / "r").item_table.astype(np.float64)
    assert np.all(b[0] == 0)
    # before γ: the randomized axes within their residuals' angle (`ritz_bounds`, capped by
    # `randomized_promise`), θ's and σ̂'s scale errors, the exact table's `pca_bound`, the
    # randomized run's float32 projection; then each γ = std/std(T) within rms(B)/std
    eig = spectral.decompose(open_embeddings(emb), center=False, top=K, solver="randomized")
    residual, theta, sin = ritz_bounds(matrix, False, eig.values, eig.vectors, K)
    assert np.all(residual <= randomized_promise(matrix, False, K, seed=0)[0])
    g, rel, s = _shrinkage_bound(matrix, 1.0)
    vectors = np.linalg.svd(matrix, full_matrices=False)[2][:K].T
    scale = g / s[:K]
    before = scores_bound(matrix, vectors, sin, scale, theta / s[:K] ** 2)  # δσ/σ ≤ δθ/σ²
    before += pca_bound(matrix, K, center=False, scale=scale, relative=rel)
    before += float32_projection_error(matrix, None, vectors * scale)
    spread = float(np.std(matrix @ vectors * scale))
    ratio = float(np.sqrt(np.mean(before**2))) / spread
    bound = 0.5 / spread * before + np.abs(a[1:]) * ratio
    within(_align(b[1:], a[1:]), a[1:], bound + U32 * (np.abs(a[1:]) + bound))
    assert fast.stats["diagnostics"]["input_spectrum_complete"] == 0.0
    assert exact.stats["diagnostics"]["input_spectrum_complete"] == 1.0
    # top-10 share: the 10 Ritz values (l = 22) within `randomized_promise`, the traces within
    # Σx²'s γ_{N·D} and D times the Gram's δ
    values = randomized_promise(matrix, False, K, seed=0, count=10)[1]
    squares = float(np.sum(matrix**2))
    trace = (matrix.size + 3) * EPS64 * squares + 48 * gram_eig_error(matrix, False)
    share = exact.stats["diagnostics"]["input_top10_share"]
    within(fast.stats["diagnostics"]["input_top10_share"], share,
           (values.sum() + share * trace) / (squares - trace))


def test_defaults_are_the_authors_released_code(emb_path, tmp_path):
    meta = _ace(emb_path, tmp_path / "t")
    assert (meta.config["lambda"], meta.config["std"], meta.config["center"]) == (50.0, 0.1, False)
    assert read_table(tmp_path / "t").params["lambda_value"] == 50.0
