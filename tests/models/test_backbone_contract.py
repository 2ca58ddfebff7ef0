"""The Backbone contract, checked for every registered backbone (backbones.md §7.2)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

import specrec.models.backbones  # noqa: F401  (registers every backbone)
from specrec.models.base import BACKBONES, Backbone, build_backbone, gather_last
from specrec.models.dual_view import DualView

DIM = 16
MAX_LEN = 12
N_ITEMS = 30


def _cases() -> list:
    cases = [pytest.param(name, {}, id=name) for name in BACKBONES.names()]
    if "hstu" in BACKBONES:
        cases += [
            pytest.param("hstu", {"rab": "position+time"}, id="hstu-time"),
            pytest.param("hstu", {"rab": "none", "n_heads": 2}, id="hstu-norab-2heads"),
        ]
    # LLM-ESR's dual view around each backbone: `views=2` builds DualView(backbone of width D/2)
    cases += [pytest.param(name, {"views": 2}, id=f"dual-{name}") for name in BACKBONES.names()]
    return cases


CASES = _cases()
NON_CAUSAL = [c for c in CASES if not BACKBONES.get(c.values[0]).causal]
CAUSAL = [c for c in CASES if BACKBONES.get(c.values[0]).causal]


def build(name: str, n_items: int, dim: int, max_len: int, options: dict) -> Backbone:
    """`build_backbone`, or with option `views=2` the backbone of width dim/2 in a DualView."""
    options = dict(options)
    if options.pop("views", 1) == 2:
        return DualView(build_backbone(name, n_items, dim=dim // 2, max_len=max_len, **options))
    return build_backbone(name, n_items, dim=dim, max_len=max_len, **options)


def make_model(name: str, options: dict, seed: int = 0) -> Backbone:
    torch.manual_seed(seed)
    return build(name, N_ITEMS, DIM, MAX_LEN, options).double().eval()


@dataclass
class Sequence:
    vectors: Tensor  # [n, D] float64
    times: Tensor  # [n + 1] int64 seconds; the last entry is the target's time
    masked: Tensor  # [n] bool (used by non-causal backbones only)


def random_sequences(lengths: list[int], seed: int) -> list[Sequence]:
    gen = torch.Generator().manual_seed(seed)
    out = []
    for n in lengths:
        gaps = torch.randint(0, 200_000, (n + 1,), generator=gen)
        gaps[torch.rand(n + 1, generator=gen) < 0.2] = 0  # ties happen in real logs
        masked = torch.rand(n, generator=gen) < 0.3
        masked[-1] = True  # the evaluation slot: a [MASK] after the history
        out.append(
            Sequence(
                vectors=torch.randn(n, DIM, generator=gen, dtype=torch.float64),
                times=1_500_000_000 + gaps.cumsum(0),
                masked=masked,
            )
        )
    return out


@dataclass
class Batch:
    x: Tensor
    lengths: Tensor
    timestamps: Tensor
    masked: Tensor


def collate(seqs: list[Sequence], width: int, pad_noise_seed: int | None = None) -> Batch:
    """Right-pad to `width`; pads are zeros, or random content when `pad_noise_seed` is set."""
    batch = len(seqs)
    x = torch.zeros(batch, width, DIM, dtype=torch.float64)
    timestamps = torch.zeros(batch, width + 1, dtype=torch.int64)
    masked = torch.zeros(batch, width, dtype=torch.bool)
    if pad_noise_seed is not None:
        gen = torch.Generator().manual_seed(pad_noise_seed)
        x = 10 * torch.randn(batch, width, DIM, generator=gen, dtype=torch.float64)
        timestamps = torch.randint(0, 2_000_000_000, (batch, width + 1), generator=gen)
        masked = torch.rand(batch, width, generator=gen) < 0.5
    for row, seq in enumerate(seqs):
        n = len(seq.vectors)
        x[row, :n] = seq.vectors
        timestamps[row, : n + 1] = seq.times
        masked[row, :n] = seq.masked
    lengths = torch.tensor([len(s.vectors) for s in seqs])
    return Batch(x, lengths, timestamps, masked)


def encode(model: Backbone, batch: Batch, *, with_time: bool = True) -> Tensor:
    return model(
        batch.x,
        batch.lengths,
        masked=None if model.causal else batch.masked,
        timestamps=batch.timestamps if with_time else None,
    )


@pytest.mark.parametrize(("name", "options"), CASES)
def test_output_shape_finite_and_deterministic(name, options):
    model = make_model(name, options)
    batch = collate(random_sequences([3, 7, 1], seed=1), width=8)
    for with_time in (True, False):
        first = encode(model, batch, with_time=with_time)
        assert first.shape == (3, 8, DIM) and first.dtype == torch.float64
        assert torch.isfinite(first).all()
        assert torch.equal(first, encode(model, batch, with_time=with_time))


@pytest.mark.parametrize(("name", "options"), CASES)
def test_padding_and_batch_composition_do_not_change_valid_outputs(name, options):
    model = make_model(name, options)
    seqs = random_sequences([1, 4, 7, 9], seed=2)
    extra = random_sequences([MAX_LEN, 2], seed=3)
    tight = encode(model, collate(seqs, width=9))
    # same sequences, wider padding (the position tables allow up to MAX_LEN), shuffled, mixed
    order = [2, 4, 0, 3, 5, 1]  # indices into seqs + extra
    pool = seqs + extra
    loose = encode(model, collate([pool[i] for i in order], width=MAX_LEN))
    for row, index in enumerate(order):
        if index < len(seqs):
            n = len(seqs[index].vectors)
            torch.testing.assert_close(loose[row, :n], tight[index, :n], rtol=0, atol=1e-6)


@pytest.mark.parametrize(("name", "options"), CASES)
def test_pad_content_does_not_change_valid_outputs(name, options):
    model = make_model(name, options)
    seqs = random_sequences([2, 5, 8], seed=4)
    clean = encode(model, collate(seqs, width=10))
    noisy = encode(model, collate(seqs, width=10, pad_noise_seed=5))
    for row, seq in enumerate(seqs):
        n = len(seq.vectors)
        torch.testing.assert_close(noisy[row, :n], clean[row, :n], rtol=0, atol=1e-9)


@pytest.mark.parametrize(("name", "options"), CASES)
def test_last_hidden_is_the_full_forward_at_each_rows_last_position(name, options):
    model = make_model(name, options)
    seqs = random_sequences([1, 4, 9, 10, 6], seed=11)
    batch = collate(seqs, width=10, pad_noise_seed=12)
    for with_time in (True, False):
        kwargs = {"masked": None if model.causal else batch.masked,
                  "timestamps": batch.timestamps if with_time else None}
        full = gather_last(model(batch.x, batch.lengths, **kwargs), batch.lengths)
        last = model.last_hidden(batch.x, batch.lengths, **kwargs)
        assert last.shape == (5, DIM)
        # float64, the same products summed in another order: about D·2^-53 relative per product
        # (~1e-14 through two layers of values of order 1), far inside 1e-12 on any BLAS
        torch.testing.assert_close(last, full, rtol=0, atol=1e-12)


@pytest.mark.parametrize(("name", "options"), CAUSAL)
def test_causal_item_at_t_never_reaches_earlier_positions(name, options):
    model = make_model(name, options)
    batch = collate(random_sequences([9, 9, 9], seed=6), width=9)
    base = encode(model, batch)
    gen = torch.Generator().manual_seed(7)
    for t in range(9):
        x = batch.x.clone()
        x[:, t] = torch.randn(3, DIM, generator=gen, dtype=torch.float64)
        out = encode(model, Batch(x, batch.lengths, batch.timestamps, batch.masked))
        assert torch.equal(out[:, :t], base[:, :t]), f"item {t} leaked into earlier positions"
        assert (out[:, t] - base[:, t]).abs().max() > 1e-6, f"item {t} is ignored at its own step"


@pytest.mark.parametrize(("name", "options"), CAUSAL)
def test_causal_timestamp_t_reaches_only_query_t_minus_1_and_later(name, options):
    """Query i may read ts[i + 1] (the time of the item it predicts), never ts[i + 2:]."""
    model = make_model(name, options)
    batch = collate(random_sequences([9, 9, 9], seed=8), width=9)
    base = encode(model, batch)
    for t in range(1, 10):
        timestamps = batch.timestamps.clone()
        timestamps[:, t] += 10**8  # about three years later: a different time bucket
        out = encode(model, Batch(batch.x, batch.lengths, timestamps, batch.masked))
        assert torch.equal(out[:, : t - 1], base[:, : t - 1]), f"ts[{t}] leaked backwards"
        if name == "hstu" and options.get("rab") == "position+time":
            assert (out[:, t - 1] - base[:, t - 1]).abs().max() > 1e-6, "time bias is unused"


@pytest.mark.parametrize(("name", "options"), NON_CAUSAL)
def test_masked_positions_ignore_their_input_vector(name, options):
    model = make_model(name, options)
    batch = collate(random_sequences([3, 6, 9], seed=9), width=9)
    assert batch.masked.sum() > 3  # the evaluation slots plus some cloze positions
    base = encode(model, batch)
    x = torch.where(batch.masked[..., None], 100 * torch.randn_like(batch.x), batch.x)
    out = encode(model, Batch(x, batch.lengths, batch.timestamps, batch.masked))
    torch.testing.assert_close(out, base, rtol=0, atol=1e-12)
    unmasked = encode(model, Batch(batch.x, batch.lengths, batch.timestamps, batch.masked & False))
    assert (unmasked - base).abs().max() > 1e-3, "the mask changed nothing"


@pytest.mark.parametrize(("name", "options"), NON_CAUSAL)
def test_bidirectional_outputs_depend_on_later_items(name, options):
    model = make_model(name, options)
    seqs = random_sequences([8], seed=10)
    seqs[0].masked[:] = False
    seqs[0].masked[-1] = True
    batch = collate(seqs, width=8)
    base = encode(model, batch)
    x = batch.x.clone()
    x[0, 6] = torch.randn(DIM, dtype=torch.float64)  # the last real item before the [MASK]
    out = encode(model, Batch(x, batch.lengths, batch.timestamps, batch.masked))
    assert (out[0, :6] - base[0, :6]).abs().amax(dim=-1).min() > 1e-6


@pytest.mark.parametrize(("name", "options"), CASES)
def test_one_backward_pass_reaches_every_parameter(name, options):
    model = make_model(name, options).train()
    torch.manual_seed(11)
    table = torch.nn.Parameter(0.1 * torch.randn(N_ITEMS + 1, DIM, dtype=torch.float64))
    batch = collate(random_sequences([4, 9, 6], seed=12), width=9)
    items = torch.randint(1, N_ITEMS + 1, batch.x.shape[:2])
    x = table[items]
    hidden = encode(model, Batch(x, batch.lengths, batch.timestamps, batch.masked))
    valid = torch.arange(9)[None] < batch.lengths[:, None]
    logits = hidden[valid] @ table.T
    if model.item_bias() is not None:
        logits = logits + model.item_bias()
    F.cross_entropy(logits, torch.randint(1, N_ITEMS + 1, (int(valid.sum()),))).backward()
    for pname, param in [*model.named_parameters(), ("item table", table)]:
        assert param.grad is not None, f"{pname} got no gradient"
        assert torch.isfinite(param.grad).all(), f"{pname} has a non-finite gradient"
        assert param.grad.abs().sum() > 0, f"{pname} got an all-zero gradient"


def _overfit_batch(seqs: Tensor, causal: bool) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Every prefix s[:t] of every sequence -> target s[t]; non-causal adds a [MASK] slot."""
    histories, targets = [], []
    for seq in seqs:
        for t in range(1, len(seq)):
            histories.append(seq[:t])
            targets.append(seq[t])
    width = seqs.size(1) - (1 if causal else 0)
    ids = torch.zeros(len(histories), width, dtype=torch.long)
    lengths = torch.tensor([len(h) + (0 if causal else 1) for h in histories])
    for row, history in enumerate(histories):
        ids[row, : len(history)] = history
    masked = torch.arange(width)[None] == (lengths - 1)[:, None]
    return ids, lengths, masked, torch.stack(targets)


@pytest.mark.parametrize(("name", "options"), CASES)
def test_tiny_model_overfits_eight_sequences(name, options):
    """200 full-softmax CE steps over a 20-item table: a dead backbone cannot get > 90% right."""
    torch.manual_seed(0)
    n_items, length = 20, 8
    firsts = torch.randperm(n_items)[:8] + 1  # distinct first items: every prefix is unambiguous
    seqs = torch.cat([firsts[:, None], torch.randint(1, n_items + 1, (8, length - 1))], dim=1)
    model = build(name, n_items, 32, length, options)
    ids, lengths, masked, targets = _overfit_batch(seqs, model.causal)
    table = torch.nn.Parameter(0.1 * torch.randn(n_items + 1, 32))
    optimizer = torch.optim.Adam([*model.parameters(), table], lr=1e-2)

    def logits() -> Tensor:
        hidden = model(table[ids], lengths, masked=None if model.causal else masked)
        last = hidden[torch.arange(len(ids)), lengths - 1]
        scores = last @ table.T
        return scores if model.item_bias() is None else scores + model.item_bias()

    model.train()
    for _ in range(200):
        optimizer.zero_grad()
        F.cross_entropy(logits(), targets).backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        predicted = logits()[:, 1:].argmax(dim=1) + 1  # row 0 is padding
    accuracy = (predicted == targets).double().mean().item()
    assert accuracy > 0.9, f"{name} reached only {accuracy:.2%} next-item accuracy"
