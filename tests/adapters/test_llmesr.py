"""LLM-ESR: stored PCA init and neighbours, the two-view table, cross-attention, distillation."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch
from adapters_synthetic import DIM, N_ITEMS, K
from sklearn.decomposition import PCA

from specrec.data.dataset import SPLIT_CODE, load_dataset
from specrec.errors import SpecrecError
from specrec.models.base import build_backbone
from specrec.models.dual_view import DualView
from specrec.models.embedders import EMBEDDERS
from specrec.models.losses import build_loss
from specrec.runs.config import TrainConfig
from specrec.runs.model import build_model
from specrec.testing.synthetic import markov_sequences, write_sequences
from specrec.train.loop import Objective
from specrec.train.samples import Batch, Samples
from specrec.train.train import train
from specrec.transform.store import read_table
from specrec.transform.transform import transform

TINY = {"n_layers": 1, "n_heads": 1, "inner_size": 16}
EPS64 = float(np.finfo(np.float64).eps)
EPS32 = float(np.finfo(np.float32).eps)
# float64 on both sides, summed in other orders: each of the few hundred operations behind an
# output value of size ~1 moves it by ~1e-16, so 1e-11 has a margin of 10³ and any real
# difference (another mask, another view, a missing term) is > 1e-3
F64_TOL = 1e-11


def _load_bounds():
    """tests/transform/bounds.py, the error bounds every transform tolerance is built from."""
    spec = importlib.util.spec_from_file_location(
        "transform_bounds", Path(__file__).parents[1] / "transform" / "bounds.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


B = _load_bounds()


def _config(**options) -> TrainConfig:
    return TrainConfig(backbone="sasrec", backbone_options=TINY, dim=K, max_len=6,
                       embedder_options=options)


# -- the transform -------------------------------------------------------------------------------


def test_stores_e_as_given_and_sklearn_pca_as_id_init(tables, matrix):
    table = read_table(tables["llmesr"])
    assert table.fusion == "adapter" and table.params["neighbours"] == 100
    features, id_init = table.basis["features"], table.basis["id_init"]
    assert np.all(features[0] == 0) and np.all(id_init[0] == 0)
    assert np.array_equal(features[1:], matrix.astype(np.float32))  # E is float32 already
    assert id_init.shape == (N_ITEMS + 1, K) and id_init.dtype == np.float32
    # pca_bound: the Gram eigensolver's axes (Davis–Kahan), the float32 projection (project
    # with dtype=float32) and float32 storage, against an SVD of the centred matrix
    bound = B.pca_bound(matrix, K, float32=True)
    expected = PCA(n_components=K, svd_solver="full").fit_transform(matrix)
    B.within(id_init[1:], expected, bound)  # sklearn's sign rule included
    u, s, _ = np.linalg.svd(matrix - matrix.mean(axis=0), full_matrices=False)
    scores = u[:, :K] * s[:K]
    aligned = id_init[1:] * np.sign(np.sum(id_init[1:] * scores, axis=0))
    B.within(aligned, scores, bound)  # centred SVD scores, up to column signs


def test_transform_needs_the_dataset(emb_path, tmp_path):
    with pytest.raises(SpecrecError, match="pass --dataset"):
        transform(method="llmesr", embeddings=emb_path, out=tmp_path / "t", dim=K,
                  log=lambda m: None)
    assert not (tmp_path / "t").exists()


def _brute_force_neighbours(data, matrix):
    """Per user: the cosine of mean training-item vectors, ranked (−cos, id), self and users
    with < 2 training events excluded; also the smallest gap between consecutive cosines."""
    train = data.split == SPLIT_CODE["train"]
    events = {u: data.items[data.offsets[u] : data.offsets[u + 1]][
        train[data.offsets[u] : data.offsets[u + 1]]] for u in range(1, data.n_users + 1)}
    profiles = {u: matrix[e - 1].mean(axis=0) for u, e in events.items() if len(e)}
    candidates = [u for u, e in events.items() if len(e) >= 2]
    ranked, gap = {}, np.inf
    for u, p in profiles.items():
        cos = {v: float(p @ profiles[v] / np.linalg.norm(p) / np.linalg.norm(profiles[v]))
               for v in candidates if v != u}
        ranked[u] = sorted(cos, key=lambda v: (-cos[v], v))
        values = sorted(cos.values())
        gap = min(gap, float(np.diff(values).min()))
    return ranked, gap, events


def test_neighbours_equal_a_brute_force_cosine_ranking(emb_path, matrix, tmp_path):
    sequences = np.random.default_rng(5).integers(1, N_ITEMS + 1, (20, 8)).tolist()  # no ties
    sequences[3], sequences[7] = sequences[3][:3], sequences[7][:2]  # 1 and 0 training events
    write_sequences(tmp_path / "d", sequences, n_items=N_ITEMS)
    data = load_dataset(tmp_path / "d")
    for wanted in (100, 5):
        transform(method="llmesr", embeddings=emb_path, out=tmp_path / f"t{wanted}", dim=K,
                  dataset=tmp_path / "d", params={"neighbours": wanted}, log=lambda m: None)
    table = read_table(tmp_path / "t100")
    stored = table.basis["user_neighbours"]
    ranked, gap, events = _brute_force_neighbours(data, matrix)
    # a cosine of two means of ≤ 6 rows (24-d) is good to (24 + 2·6 + 8)·ε₆₄ in either
    # computation; the smallest gap between two cosines is far larger, so the order is exact
    assert gap > 2 * (DIM + 2 * 6 + 8) * EPS64
    assert stored.shape == (21, 17)  # 18 candidates with ≥ 2 training events, less oneself
    assert np.all(stored[0] == 0) and np.all(stored[8] == 0)  # padding; no training events
    for user, order in ranked.items():
        assert stored[user].tolist() == order[:17], user  # user 4 (no candidate) ranks 18
    assert 4 not in stored and 8 not in stored  # 1 and 0 training events: never a neighbour
    assert np.array_equal(read_table(tmp_path / "t5").basis["user_neighbours"], stored[:, :5])
    offsets, items = table.basis["user_offsets"], table.basis["user_items"]
    for user, expected in events.items():
        assert items[offsets[user] : offsets[user + 1]].tolist() == expected.tolist()


# -- the embedder ----------------------------------------------------------------------------


def test_table_is_id_view_then_adapter_of_the_frozen_table(tables, matrix):
    table = read_table(tables["llmesr"])
    torch.manual_seed(0)
    embedder = EMBEDDERS.get("llmesr")(N_ITEMS, K, table, {})
    assert embedder.views == 2 and embedder.dim == 2 * K
    first, second = embedder.adapter
    assert (first.in_features, first.out_features, second.out_features) == (DIM, DIM, K)  # h=24
    assert set(embedder.state_dict()) == {"id", "adapter.0.weight", "adapter.0.bias",
                                          "adapter.1.weight", "adapter.1.bias"}
    out = embedder().detach().double().numpy()
    assert np.all(out[0] == 0)
    assert np.array_equal(out[1:, :K], table.basis["id_init"][1:])  # the init, untouched
    x = matrix
    w1, b1 = first.weight.detach().double().numpy(), first.bias.detach().double().numpy()
    w2, b2 = second.weight.detach().double().numpy(), second.bias.detach().double().numpy()
    hidden = x @ w1.T + b1
    # two float32 Linear layers: γ_n ≤ n·ε₃₂ of |x||W|ᵀ + |b| each, the first one's error
    # carried through |W₂|
    first_error = (DIM + 1) * EPS32 * (np.abs(x) @ np.abs(w1).T + np.abs(b1))
    bound = first_error @ np.abs(w2).T + (DIM + 1) * EPS32 * (
        (np.abs(hidden) + first_error) @ np.abs(w2).T + np.abs(b2))
    B.within(out[1:, K:], hidden @ w2.T + b2, bound)
    assert EMBEDDERS.get("llmesr")(N_ITEMS, K, table, {"h": 5}).adapter[0].out_features == 5


@pytest.mark.parametrize("options, dim, message", [
    ({"sim_users": 30}, K, "sim_users 30 exceeds the 23 similar users"),
    ({"alpha": -1}, K, "alpha must be a number >= 0"),
    ({"simusers": 3}, K, r"has no option\(s\) \['simusers'\]"),
    ({}, K + 2, "8-wide ID view, the model's per-view --dim is 10"),
])
def test_bad_options_are_refused(tables, options, dim, message):
    with pytest.raises(SpecrecError, match=message):
        EMBEDDERS.get("llmesr")(N_ITEMS, dim, read_table(tables["llmesr"]), options)


# -- the dual-view wrapper -------------------------------------------------------------------


def _hand_cross(attention, queries, keys, allowed):
    """CA(x, y) element by element: per head, softmax over the allowed keys of q·k/√d_h."""
    wq, wk, wv = (m.weight.detach().numpy() for m in (attention.query, attention.key,
                                                      attention.value))
    wo, bo = attention.out.weight.detach().numpy(), attention.out.bias.detach().numpy()
    q, k, v = queries @ wq.T, keys @ wk.T, keys @ wv.T
    batch, length, dim = queries.shape
    heads = attention.heads
    width = dim // heads
    out = np.zeros((batch, length, dim))
    for b in range(batch):
        for t in range(length):
            for h in range(heads):
                cols = slice(h * width, (h + 1) * width)
                seen = [s for s in range(length) if allowed[b][t][s]]
                scores = np.array([q[b, t, cols] @ k[b, s, cols] / math.sqrt(width) for s in seen])
                weights = np.exp(scores - scores.max()) / np.exp(scores - scores.max()).sum()
                out[b, t, cols] = sum(w * v[b, s, cols] for w, s in zip(weights, seen))
    return out @ wo.T + bo


def _dual(name: str, **options) -> DualView:
    torch.manual_seed(1)
    inner = build_backbone(name, N_ITEMS, dim=4, max_len=5, **options)
    return DualView(inner).double().eval()


def test_cross_attention_both_ways_causal_equals_a_hand_computation():
    model = _dual("sasrec", **TINY)
    assert model.config.dim == 8 and model.causal and model.to_id.heads == 2
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(2, 4, 8, generator=gen, dtype=torch.float64)
    lengths = torch.tensor([4, 2])
    causal = [[[s <= t and s < n for s in range(4)] for t in range(4)] for n in (4, 2)]
    assert model.allowed(lengths, 4, None).tolist() == causal
    x_id, x_llm = x[..., :4].numpy(), x[..., 4:].numpy()
    to_id = _hand_cross(model.to_id, x_llm, x_id, causal)  # LLM-ESR's llm2id(llm, id)
    to_llm = _hand_cross(model.to_llm, x_id, x_llm, causal)  # id2llm(id, llm)
    allowed = model.allowed(lengths, 4, None)
    got_id = model.to_id(x[..., 4:], x[..., :4], allowed).detach().numpy()
    got_llm = model.to_llm(x[..., :4], x[..., 4:], allowed).detach().numpy()
    np.testing.assert_allclose(got_id, to_id, rtol=0, atol=F64_TOL)
    np.testing.assert_allclose(got_llm, to_llm, rtol=0, atol=F64_TOL)
    # the whole wrapper: the one backbone on each stream, concatenated (no residual)
    inner = [model.inner(torch.from_numpy(s), lengths) for s in (to_id, to_llm)]
    expected = torch.cat(inner, dim=-1).detach().numpy()
    np.testing.assert_allclose(model(x, lengths).detach().numpy(), expected, rtol=0, atol=F64_TOL)
    # LLM-ESR's own mask (pad keys only) lets position 0 read the later items: ours does not
    pads_only = [[[s < n for s in range(4)] for _ in range(4)] for n in (4, 2)]
    leaky = _hand_cross(model.to_id, x_llm, x_id, pads_only)
    assert np.abs(leaky[:, 0] - to_id[:, 0]).max() > 1e-3


def test_cloze_cross_attention_is_bidirectional_and_skips_masked_keys():
    model = _dual("bert4rec", **TINY)
    assert not model.causal
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(2, 4, 8, generator=gen, dtype=torch.float64)
    lengths, masked = torch.tensor([4, 3]), torch.tensor([[0, 1, 0, 1], [0, 0, 1, 0]]).bool()
    expected = [[[s < n and not masked[b, s] for s in range(4)] for _ in range(4)]
                for b, n in enumerate((4, 3))]
    allowed = model.allowed(lengths, 4, masked)
    assert allowed.tolist() == expected
    got = model.to_llm(x[..., :4], x[..., 4:], allowed).detach().numpy()
    hand = _hand_cross(model.to_llm, x[..., :4].numpy(), x[..., 4:].numpy(), expected)
    np.testing.assert_allclose(got, hand, rtol=0, atol=F64_TOL)


def test_one_backbone_serves_both_views(tables):
    model = build_model(_config(), N_ITEMS, read_table(tables["llmesr"]))
    wrapper = model.backbone
    assert isinstance(wrapper, DualView) and wrapper.config.dim == 2 * K == model.embedder.dim
    inner = sum(p.numel() for p in wrapper.inner.parameters())
    cross = 2 * (3 * K * K + K * K + K)  # W_q, W_k, W_v bias-free; W_o with its bias
    assert sum(p.numel() for p in wrapper.parameters()) == inner + cross
    names = [n for n, _ in wrapper.named_parameters(remove_duplicate=False)]
    assert all(n.startswith(("inner.", "to_id.", "to_llm.")) for n in names)
    assert len(names) == len(set(names)) == len(list(wrapper.parameters()))
    # a loss on either half alone reaches the same inner weights
    x = torch.randn(3, 5, 2 * K)
    lengths = torch.tensor([5, 2, 4])
    for half in (slice(0, K), slice(K, 2 * K)):
        wrapper.zero_grad()
        wrapper(x, lengths)[..., half].square().sum().backward()
        assert all(p.grad is not None and p.grad.abs().sum() > 0
                   for p in wrapper.inner.parameters())


# -- retrieval-augmented self-distillation ---------------------------------------------------


def _hand_distillation(model, batch, hidden, table, data, neighbours, alpha, sim_users):
    """α · mean over rows and dims of (u_b − mean_v u(H_v))², each H_v run on its own."""
    train = data.split == SPLIT_CODE["train"]
    total, count = 0.0, 0
    for row, user in enumerate(batch.users.tolist()):
        states = []
        for v in neighbours[user, :sim_users]:
            span = np.arange(data.offsets[v], data.offsets[v + 1])[train[data.offsets[v] :
                                                                        data.offsets[v + 1]]]
            history = span[:-1][-model.max_len :]
            times = np.append(data.timestamps[history], data.timestamps[span[-1]])
            seq = torch.from_numpy(data.items[history].astype(np.int64))[None]
            out = model.hidden(seq, torch.tensor([len(history)]), table,
                               timestamps=torch.from_numpy(times)[None])
            states.append(out[0, len(history) - 1].detach().numpy())
        u = hidden[row, int(batch.lengths[row]) - 1].detach().numpy()
        total += float(((u - np.mean(states, axis=0)) ** 2).sum())
        count += u.size
    return alpha * total / count


@pytest.mark.parametrize("mode", ["prefixes", "windows"])
def test_distillation_equals_alpha_mse_to_the_similar_users_mean_state(tables, dataset, mode):
    table = read_table(tables["llmesr"])
    model = build_model(_config(alpha=0.3, sim_users=4), N_ITEMS, table).double().eval()
    data = load_dataset(dataset)
    batch = next(Samples(data, 6, mode).batches(8, 0, 0))
    items = model.item_table()
    hidden = model.hidden(batch.seq, batch.lengths, items, timestamps=batch.timestamps)
    got = model.embedder.distill(model, batch, hidden, items)
    expected = _hand_distillation(model, batch, hidden, items, data,
                                  table.basis["user_neighbours"], 0.3, 4)
    assert expected > 1e-4
    assert abs(got.item() - expected) <= F64_TOL * expected
    # the objective adds exactly this term to the ranking loss
    loss = build_loss("ce")
    supervised = batch.targets > 0
    base = loss(model.score_user(hidden[supervised]), batch.targets[supervised],
                model.score_table(items), model.item_bias(), torch.Generator())
    total = Objective(model, loss)(batch, torch.Generator())
    assert abs(total.item() - base.item() - expected) <= F64_TOL * total.item()
    got.backward()  # the similar users' states are constants: only u_b carries gradients
    assert model.embedder.id.grad is not None and model.embedder.id.grad.abs().sum() > 0


def test_alpha_zero_runs_no_extra_pass_and_rows_need_users(tables, dataset, monkeypatch):
    table = read_table(tables["llmesr"])
    data = load_dataset(dataset)
    batch = next(Samples(data, 6, "prefixes").batches(8, 0, 0))
    for alpha, passes in ((0.0, 1), (0.1, 2)):
        model = build_model(_config(alpha=alpha), N_ITEMS, table)
        calls = []
        original = model.hidden
        monkeypatch.setattr(model, "hidden", lambda *a, **k: calls.append(1) or original(*a, **k))
        Objective(model, build_loss("ce"))(batch, torch.Generator())
        assert len(calls) == passes
    anonymous = Batch(batch.seq, batch.lengths, batch.targets, batch.timestamps)
    with pytest.raises(SpecrecError, match="needs each row's user"):
        Objective(build_model(_config(), N_ITEMS, table), build_loss("ce"))(anonymous, None)


def test_llmesr_trains_and_its_loss_falls(tables, dataset, tmp_path):
    config = _config()
    config.epochs, config.batch_size, config.lr = 12, 16, 1e-2
    train(dataset=dataset, out=tmp_path / "run", table=tables["llmesr"], config=config,
          device="cpu", log=lambda m: None)
    losses = pl.read_parquet(tmp_path / "run" / "history.parquet")["loss"].to_list()
    assert len(losses) == 12 and all(math.isfinite(v) for v in losses)
    late = float(np.mean(losses[-3:]))  # 4.19 → 3.07 here, dropout 0.5 makes epochs noisy
    # below the cross-entropy of a uniform guess over the items, ln N, which the loss (CE plus
    # the non-negative distillation term) cannot reach without learning the Markov chain
    assert late < 0.85 * losses[0] and late < math.log(N_ITEMS), losses


def test_train_refuses_the_users_of_another_dataset(tables, tmp_path):
    other = tmp_path / "other"
    # another protocol: a dataset of other users and splits (synthetic fingerprints are the config)
    write_sequences(other, markov_sequences(10, N_ITEMS, 6, seed=9), n_items=N_ITEMS,
                    protocol="train")
    with pytest.raises(SpecrecError, match="holds the users of dataset"):
        train(dataset=other, out=tmp_path / "r", table=tables["llmesr"], config=_config(),
              device="cpu", log=lambda m: None)
    assert not (tmp_path / "r").exists()
