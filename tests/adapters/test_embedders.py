"""Each adapter's item embedder, built from `read_table`: contract, formula, identities."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from adapters_synthetic import ADAPTERS, N_ITEMS, K

from specrec.errors import SpecrecError
from specrec.models.embedders import EMBEDDERS
from specrec.transform.store import read_table


def build(method: str, tables: dict, **options):
    torch.manual_seed(0)
    return EMBEDDERS.get(method)(N_ITEMS, K, read_table(tables[method]), options)


@pytest.mark.parametrize("method", ADAPTERS)
def test_table_shape_padding_and_gradients(method, tables):
    embedder = build(method, tables).train()
    table = embedder()
    assert table.shape == (N_ITEMS + 1, K * embedder.views) and table.dtype == torch.float32
    assert torch.all(table[0] == 0) and torch.isfinite(table).all()
    assert table[1:].abs().sum(dim=1).min() > 0
    aux = embedder.aux_loss()
    assert (aux is not None) == (method == "rlmrec")  # llmemb aligns only with a teacher
    ((table**2).sum() + (aux if aux is not None else 0)).backward()
    for name, param in embedder.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name
    frozen = dict(embedder.named_buffers())
    assert frozen and all(not b.requires_grad and b.grad is None for b in frozen.values())
    # the frozen inputs live in the transform artifact, not in the run's weights
    assert set(embedder.state_dict()) == {name for name, _ in embedder.named_parameters()}


def test_morec_and_whitenrec_are_gelu_of_a_linear_map(tables, matrix):
    for method, inputs in (
        ("morec", torch.tensor(40 * matrix, dtype=torch.float32)),
        ("whitenrec", torch.from_numpy(read_table(tables["whitenrec"]).basis["features"][1:])),
    ):
        embedder = build(method, tables)
        linear = embedder.head[0]
        assert linear.in_features == 24 and linear.out_features == K
        torch.testing.assert_close(embedder()[1:], F.gelu(inputs @ linear.weight.T + linear.bias))


def test_alpharec_mlp_width_and_formula(tables, matrix):
    embedder = build("alpharec", tables)
    first, last = embedder.head[0], embedder.head[2]
    assert first.out_features == 8 * 24 and last.in_features == 192  # auto ratio 8 for D = 24
    x = torch.tensor(matrix, dtype=torch.float32)
    expected = F.leaky_relu(x @ first.weight.T + first.bias, 0.01) @ last.weight.T + last.bias
    torch.testing.assert_close(embedder()[1:], expected)
    assert build("alpharec", tables, ratio=0.5).head[0].out_features == 12
    with pytest.raises(SpecrecError, match="ratio"):
        build("alpharec", tables, ratio=-2)


def test_unisrec_gates_start_uniform_and_mix_pw_experts(tables, matrix):
    moe = build("unisrec", tables).eval()
    x = moe.features
    gates = moe.gates(x)
    assert torch.equal(gates, torch.full_like(gates, 1 / 8))
    with torch.no_grad():
        for expert in moe.experts:
            expert.shift.normal_()
    experts = [(x - e.shift) @ e.linear.weight.T for e in moe.experts]  # eval: no dropout
    torch.testing.assert_close(moe()[1:], (sum(experts) / 8)[1:])
    weights = torch.cat(
        [e.linear.weight.detach().flatten() for e in build("unisrec", tables).experts]
    )
    assert 0.018 < float(weights.std()) < 0.022 and abs(float(weights.mean())) < 0.002
    noisy = moe.train().gates(x)
    assert not torch.allclose(noisy, gates) and torch.allclose(
        noisy.sum(dim=1), torch.ones(N_ITEMS + 1)
    )
    transductive = build("unisrec", tables, with_id=True).eval()
    moe_part = build("unisrec", tables).eval()()
    torch.testing.assert_close(transductive()[1:], moe_part[1:] + transductive.id[1:])


def _taylor(sigma: np.ndarray, alpha: list[float]) -> np.ndarray:
    return sigma[0] * sum(a * (sigma / sigma[0]) ** j for j, a in enumerate(alpha))


@pytest.mark.parametrize("zeroed", ["query", "key"])
def test_spectran_without_attention_is_the_spectral_encoding(zeroed, tables, matrix):
    basis = read_table(tables["spectran"]).basis
    left, sigma = torch.from_numpy(basis["U"]), basis["S"].astype(np.float64)
    spectran = build("spectran", tables, fusion="none")
    with torch.no_grad():
        getattr(spectran, zeroed).zero_()
    expected = left[:, :K] * torch.tensor(_taylor(sigma[:K], [1, 1, 1, 1]), dtype=torch.float32)
    torch.testing.assert_close(spectran(), expected)  # α = 1, n = 3: h(σ) = σ₁ Σ_j (σ/σ₁)^j
    with torch.no_grad():
        spectran.alpha.copy_(torch.tensor([0.0, 1.0, 0.0, 0.0]))
    truncated = spectran().detach().numpy().astype(np.float64)
    np.testing.assert_allclose(truncated, basis["U"][:, :K] * sigma[:K], rtol=1e-5, atol=1e-6)
    _, _, vt = np.linalg.svd(matrix, full_matrices=False)
    projected = matrix @ vt[:K].T  # U_d Σ_d = E V_d (SpecTran eq. 4)
    signs = np.sign(np.sum(truncated[1:] * projected, axis=0))
    np.testing.assert_allclose(truncated[1:] * signs, projected, atol=1e-4)


def test_spectran_shrinkage_threshold_and_fusions(tables):
    spectran = build("spectran", tables, fusion="none")
    scores = spectran.query @ spectran.key.T
    torch.testing.assert_close(spectran.attention(), scores)  # λ = 0: φ is the identity
    with torch.no_grad():
        spectran.threshold.fill_(-1.0)  # clamped: behaves as λ = 0
    torch.testing.assert_close(spectran.attention(), scores)
    with torch.no_grad():
        spectran.threshold.fill_(0.05)
    expected = torch.sign(scores) * torch.clamp(scores.abs() - 0.05, min=0)
    torch.testing.assert_close(spectran.attention(), expected)
    assert 0 < int((spectran.attention() == 0).sum()) < scores.numel()
    added = build("spectran", tables)  # default: E_ID + E_s
    assert added.id.shape == (N_ITEMS + 1, K) and 0.015 < float(added.id.detach().std()) < 0.025
    torch.testing.assert_close(added()[1:], added.id[1:] + added.semantic()[1:])
    joined = build("spectran", tables, fusion="concat", id_dim=3)
    assert joined.query.shape == (K - 3, 128) and joined.key.shape == (24, 128)
    table = joined()
    torch.testing.assert_close(table[1:, :3], joined.id[1:])
    torch.testing.assert_close(table[1:, 3:], joined.semantic()[1:])
    assert build("spectran", tables, h=16, n=1).alpha.shape == (2,)


def test_spectran_rank_below_dim_pads_the_encoding(tables, emb_path, tmp_path):
    from specrec.transform.transform import transform

    transform(
        method="spectran",
        embeddings=emb_path,
        out=tmp_path / "r4",
        dim=K,
        params={"rank": 4},
        log=lambda m: None,
    )
    table = read_table(tmp_path / "r4")
    spectran = EMBEDDERS.get("spectran")(N_ITEMS, K, table, {"fusion": "none"})
    assert spectran.key.shape == (4, 128)
    with torch.no_grad():
        spectran.query.zero_()
    out = spectran()
    assert torch.all(out[:, 4:] == 0) and out[1:, :4].abs().min() > 0


def test_rlmrec_item_table_is_the_id_table_and_aux_is_one_minus_mean_cosine(tables, matrix):
    rlmrec = build("rlmrec", tables)
    table = rlmrec()
    assert torch.equal(table[1:], rlmrec.id[1:]) and torch.all(table[0] == 0)
    first, last = rlmrec.reconstructor[0], rlmrec.reconstructor[2]
    assert (first.in_features, first.out_features, last.out_features) == (24, 16, K)  # (24 + 8) / 2
    with torch.no_grad():
        rebuilt = (
            rlmrec.reconstructor(torch.tensor(40 * matrix, dtype=torch.float32)).double().numpy()
        )
        ids = rlmrec.id[1:].double().numpy()
    cosine = (
        np.sum(rebuilt * ids, axis=1)
        / np.linalg.norm(rebuilt, axis=1)
        / np.linalg.norm(ids, axis=1)
    )
    assert float(rlmrec.aux_loss().detach()) == pytest.approx(0.1 * (1 - cosine.mean()), rel=1e-5)
    sampled = build("rlmrec", tables, align_items=10, beta=0.5)
    torch.manual_seed(11)
    value = float(sampled.aux_loss().detach())
    torch.manual_seed(11)
    items = (torch.randperm(N_ITEMS)[:10]).numpy()
    assert value == pytest.approx(0.5 * (1 - cosine[items].mean()), rel=1e-5)
    plain = build("rlmrec", tables, beta=0)
    assert plain.aux_loss() is None and [n for n, _ in plain.named_parameters()] == ["id"]


@pytest.mark.parametrize(
    "method, options, match",
    [
        ("morec", {"sclae": 3}, r"has no option\(s\) \['sclae'\]"),
        ("spectran", {"fusion": "mul"}, "fusion must be one of"),
        ("spectran", {"fusion": "concat", "id_dim": K}, "id_dim must be in 1..7"),
        ("spectran", {"h": 0}, "option h must be an integer >= 1"),
        ("unisrec", {"dropout": 1.5}, "option dropout must be a number >= 0 and < 1"),
        ("unisrec", {"experts": 0}, "experts must be an integer"),
        ("llmemb", {"tau": 0}, "option tau must be a number > 0"),
        ("llmemb", {"h": 0}, "option h must be an integer >= 1"),
        ("rlmrec", {"beta": -1}, "option beta must be a number >= 0"),
    ],
)
def test_bad_options_are_refused(method, options, match, tables):
    with pytest.raises(SpecrecError, match=match):
        build(method, tables, **options)


def test_a_table_of_another_item_count_is_refused(tables):
    with pytest.raises(SpecrecError, match="expected 30 rows"):
        EMBEDDERS.get("morec")(N_ITEMS - 1, K, read_table(tables["morec"]), {})
