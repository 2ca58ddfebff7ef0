"""GRU4Rec, BERT4Rec and HSTU: defaults, initialisation, equations against hand-written loops."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import specrec.models.backbones  # noqa: F401  (registers every backbone)
from specrec.errors import SpecrecError
from specrec.models.backbones.hstu import time_buckets
from specrec.models.base import build_backbone


def _model(name: str, **options):
    torch.manual_seed(0)
    return build_backbone(name, 10, **options).double().eval()


# ---------------------------------------------------------------- GRU4Rec


def test_gru4rec_has_recbole_defaults_and_no_gru_bias():
    model = build_backbone("gru4rec", 10)
    config = model.config
    assert (config.dim, config.hidden_size, config.num_layers, config.dropout_prob) == (
        64, 128, 1, 0.3
    )
    names = {n for n, _ in model.named_parameters()}
    assert names == {"gru.weight_ih_l0", "gru.weight_hh_l0", "dense.weight", "dense.bias"}
    # xavier_uniform bound sqrt(6 / (fan_in + fan_out)); PyTorch's default would be 1/sqrt(128)
    bound = math.sqrt(6 / (64 + 3 * 128))  # 0.1157 vs default 0.0884
    weight = model.gru.weight_ih_l0
    assert weight.abs().max() <= bound and weight.abs().max() > 0.95 * bound


def test_gru4rec_matches_the_gru_equations_by_hand():
    model = _model("gru4rec", dim=3, hidden_size=4)
    x = torch.randn(1, 5, 3, dtype=torch.float64)
    out = model(x, torch.tensor([5]))
    w_ir, w_iz, w_in = model.gru.weight_ih_l0.detach().chunk(3)
    w_hr, w_hz, w_hn = model.gru.weight_hh_l0.detach().chunk(3)
    h = torch.zeros(4, dtype=torch.float64)
    for t in range(5):
        r = torch.sigmoid(w_ir @ x[0, t] + w_hr @ h)
        z = torch.sigmoid(w_iz @ x[0, t] + w_hz @ h)
        n = torch.tanh(w_in @ x[0, t] + r * (w_hn @ h))
        h = (1 - z) * n + z * h
        expected = model.dense.weight.detach() @ h + model.dense.bias.detach()
        torch.testing.assert_close(out[0, t], expected, rtol=0, atol=1e-12)


def test_gru4rec_dropout_acts_on_the_input_only_in_training():
    model = _model("gru4rec", dim=8, dropout_prob=0.3)
    x, lengths = torch.randn(4, 6, 8, dtype=torch.float64), torch.tensor([6, 4, 6, 1])
    assert torch.equal(model(x, lengths), model(x, lengths))
    seen = []
    model.gru.register_forward_hook(lambda module, args, result: seen.append(args[0]))
    model.train()
    assert not torch.allclose(model(x, lengths), model.eval()(x, lengths))
    dropped = seen[0]  # the training-mode GRU input: each entry 0 or x / q̂, q̂ = 1 - p in 2^-16 steps
    kept = dropped != 0
    torch.testing.assert_close(dropped[kept], x[kept] / (round(0.7 * 2**16) / 2**16))
    assert 0.15 < 1 - kept.double().mean() < 0.45
    assert torch.equal(seen[1], x)  # eval mode: no dropout
    assert (model(x, lengths)[1, 4:] == 0).all()  # pad rows are zeroed


def test_gru4rec_two_layers_and_bad_options():
    model = _model("gru4rec", dim=8, num_layers=2)
    assert model(torch.randn(2, 5, 8, dtype=torch.float64), torch.tensor([5, 2])).shape == (2, 5, 8)
    with pytest.raises(SpecrecError, match="dropout_prob"):
        build_backbone("gru4rec", 10, dropout_prob=1.5)
    with pytest.raises(SpecrecError, match="no option"):
        build_backbone("gru4rec", 10, hidden=32)


# ---------------------------------------------------------------- BERT4Rec


def test_bert4rec_has_recbole_defaults_and_a_zero_item_bias():
    model = build_backbone("bert4rec", 10)
    c = model.config
    assert (c.n_layers, c.n_heads, c.inner_size, c.hidden_dropout, c.attn_dropout) == (
        2, 2, 256, 0.2, 0.2
    )
    assert (c.layer_norm_eps, c.init_std, c.mask_ratio, c.ft_ratio) == (1e-12, 0.02, 0.2, 0.5)
    bias = model.item_bias()
    assert isinstance(bias, torch.nn.Parameter) and bias.shape == (11,) and (bias == 0).all()
    assert any(p is bias for p in model.parameters())
    assert model.mask_vector.shape == (64,) and 0.01 < model.mask_vector.std() < 0.03
    assert model.position.num_embeddings == 50


def test_bert4rec_masked_slot_reads_the_learned_mask_vector():
    model = _model("bert4rec", dim=8, max_len=6)
    x, lengths = torch.randn(2, 6, 8, dtype=torch.float64), torch.tensor([6, 4])
    masked = torch.zeros(2, 6, dtype=torch.bool)
    masked[0, 5] = masked[1, 3] = masked[0, 1] = True
    explicit = x.clone()
    explicit[masked] = model.mask_vector.detach()
    torch.testing.assert_close(model(x, lengths, masked=masked), model(explicit, lengths))


def test_bert4rec_output_head_is_layer_normalised_and_pads_are_zero():
    model = _model("bert4rec", dim=16, max_len=8)
    out = model(torch.randn(3, 8, 16, dtype=torch.float64), torch.tensor([8, 5, 2]))
    valid = torch.arange(8)[None] < torch.tensor([8, 5, 2])[:, None]
    rows = out[valid]  # LN(GELU(W h + b)) with gamma 1, beta 0 at init
    assert rows.mean(-1).abs().max() < 1e-12
    torch.testing.assert_close(rows.var(-1, unbiased=False), torch.ones(15, dtype=torch.float64))
    assert (out[~valid] == 0).all()


def test_bert4rec_rejects_sequences_longer_than_its_position_table():
    model = _model("bert4rec", dim=8, max_len=4)
    with pytest.raises(SpecrecError, match="max_len 4"):
        model(torch.randn(1, 5, 8, dtype=torch.float64), torch.tensor([5]))
    with pytest.raises(SpecrecError, match="divisible"):
        build_backbone("bert4rec", 10, dim=10, n_heads=3)


# ---------------------------------------------------------------- HSTU


def test_time_buckets_follow_the_log_rule():
    deltas = [0, 1, 2, 10, 60, 3600, 86400, 30 * 86400, 365 * 86400, 10**9, -3600]
    timestamps = torch.tensor([[0] + deltas])  # query 0 compares ts[1..] with ts[0]
    buckets = time_buckets(timestamps, num_buckets=128)[0, :, 0]
    assert buckets.tolist() == [0, 0, 2, 7, 13, 27, 37, 49, 57, 68, 27]
    assert time_buckets(timestamps, num_buckets=20)[0, :, 0].max() == 20  # clamped


def test_hstu_defaults_and_parameters():
    model = build_backbone("hstu", 10)
    c = model.config
    assert (c.n_layers, c.n_heads, c.dropout, c.rab, c.num_buckets, c.l2_output) == (
        2, 1, 0.2, "position", 128, True
    )
    layer = model.layers[0]
    assert layer.uvqk.weight.shape == (4 * 64, 64) and layer.uvqk.bias is None
    assert layer.rel_bias.position_weights.shape == (2 * 51 - 1,)
    assert layer.rel_bias.time_weights is None  # rab="position" has no time bias
    names = {n for n, _ in model.named_parameters()}
    assert len(names) == 1 + 2 * 4  # no LayerNorm affine parameters anywhere
    # position table: xavier_normal over (51, 64) -> std sqrt(2 / 115) = 0.132
    assert abs(model.position.weight.std().item() / math.sqrt(2 / 115) - 1) < 0.1
    assert abs(layer.uvqk.weight.std().item() / 0.02 - 1) < 0.1


def _reference_hstu(model, x, lengths, timestamps):
    """The research-code equations, written with explicit loops over the jagged rows."""
    n_total, dim = model.n_total, x.size(-1)
    outputs = torch.zeros_like(x)
    for b, n in enumerate(lengths.tolist()):
        hidden = math.sqrt(dim) * x[b, :n] + model.position.weight[:n]
        for layer in model.layers:
            heads = layer.heads
            u, v, q, k = F.silu(F.layer_norm(hidden, (dim,), eps=1e-6) @ layer.uvqk.weight.T).split(
                layer.split, dim=-1
            )
            attended = torch.zeros(n, v.size(-1), dtype=x.dtype)
            d_qk, d_v = q.size(-1) // heads, v.size(-1) // heads
            for h in range(heads):
                for i in range(n):
                    for j in range(i + 1):
                        score = q[i, h * d_qk : (h + 1) * d_qk] @ k[j, h * d_qk : (h + 1) * d_qk]
                        score = score + layer.rel_bias.position_weights[n_total - 1 + j - i]
                        delta = abs(int(timestamps[b, i + 1]) - int(timestamps[b, j]))
                        bucket = min(int(math.log(max(delta, 1)) / 0.301), model.config.num_buckets)
                        score = score + layer.rel_bias.time_weights[bucket]
                        weight = F.silu(score) / n_total
                        values = v[j, h * d_v : (h + 1) * d_v]
                        attended[i, h * d_v : (h + 1) * d_v] += weight * values
            gated = u * F.layer_norm(attended, (attended.size(-1),), eps=1e-6)
            hidden = gated @ layer.out.weight.T + layer.out.bias + hidden
        outputs[b, :n] = hidden / hidden.norm(dim=-1, keepdim=True).clamp(min=1e-6)
    return outputs


def test_hstu_matches_the_research_equations_written_as_loops():
    model = _model("hstu", dim=8, max_len=7, n_heads=2, rab="position+time", attention_dim=3)
    x = torch.randn(2, 6, 8, dtype=torch.float64)
    lengths = torch.tensor([6, 3])
    timestamps = torch.tensor(
        [[0, 5, 5, 70, 4000, 90000, 10**7], [100, 3700, 3710, 10**6, 0, 0, 0]]
    )
    with torch.no_grad():
        out = model(x, lengths, timestamps=timestamps)
        expected = _reference_hstu(model, x, lengths, timestamps)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-10)
    torch.testing.assert_close(out.norm(dim=-1)[0], torch.ones(6, dtype=torch.float64))


def test_hstu_time_mode_without_timestamps_equals_position_mode():
    timed = _model("hstu", dim=8, max_len=6, rab="position+time")
    plain = build_backbone("hstu", 10, dim=8, max_len=6, rab="position").double().eval()
    missing, unexpected = plain.load_state_dict(timed.state_dict(), strict=False)
    assert not missing and len(unexpected) == 2  # the two layers' time weights
    x, lengths = torch.randn(2, 5, 8, dtype=torch.float64), torch.tensor([5, 2])
    torch.testing.assert_close(timed(x, lengths), plain(x, lengths), rtol=0, atol=0)
    no_bias = build_backbone("hstu", 10, dim=8, max_len=6, rab="none").double().eval()
    no_bias.load_state_dict(timed.state_dict(), strict=False)
    assert (no_bias(x, lengths) - plain(x, lengths)).abs().max() > 1e-6


def test_hstu_l2_output_option():
    x, lengths = torch.randn(2, 5, 8, dtype=torch.float64), torch.tensor([5, 2])
    normed = _model("hstu", dim=8, max_len=6)(x, lengths)
    torch.testing.assert_close(normed.norm(dim=-1)[1, :2], torch.ones(2, dtype=torch.float64))
    assert (normed[1, 2:] == 0).all()
    raw = _model("hstu", dim=8, max_len=6, l2_output=False)(x, lengths)
    torch.testing.assert_close(F.normalize(raw, dim=-1), normed)
    assert (raw.norm(dim=-1)[0] - 1).abs().max() > 0.1


@pytest.mark.parametrize("l2_output", [True, False])
def test_hstu_last_hidden_of_an_empty_row_is_zero_as_in_forward(l2_output):
    model = _model("hstu", dim=8, max_len=6, l2_output=l2_output)
    x, lengths = torch.randn(3, 6, 8, dtype=torch.float64), torch.tensor([0, 3, 6])
    last = model.last_hidden(x, lengths)
    assert torch.equal(last[0], torch.zeros(8, dtype=torch.float64))
    torch.testing.assert_close(last, model(x, lengths)[torch.arange(3), torch.tensor([0, 2, 5])],
                               rtol=0, atol=1e-12)
    assert (last[1:].norm(dim=1) > 1e-3).all()  # the other rows are not masked


def test_hstu_rejects_bad_options_and_shapes():
    with pytest.raises(SpecrecError, match="rab must be one of"):
        build_backbone("hstu", 10, rab="time")
    with pytest.raises(SpecrecError, match="not divisible"):
        build_backbone("hstu", 10, dim=10, n_heads=3)
    assert build_backbone("hstu", 10, dim=10, n_heads=3, attention_dim=4, linear_dim=4)
    model = _model("hstu", dim=8, max_len=4, rab="position+time")
    x = torch.randn(1, 5, 8, dtype=torch.float64)
    model(x, torch.tensor([5]))  # up to max_len + 1 positions fit the tables
    with pytest.raises(SpecrecError, match="exceeds max_len"):
        model(torch.randn(1, 6, 8, dtype=torch.float64), torch.tensor([6]))
    with pytest.raises(SpecrecError, match=r"\[B, L \+ 1\]"):
        model(x, torch.tensor([5]), timestamps=torch.zeros(1, 5, dtype=torch.long))
