"""sasrec-af against a left-padded re-computation of AlphaFuse's SASRec from its description."""

from __future__ import annotations

import math

import pytest
import torch

import specrec.models.backbones  # noqa: F401  (registers every backbone)
from specrec.models.base import build_backbone, gather_last
from specrec.models.dropout import Dropout

DIM, MAX_LEN = 8, 6


def model(n_heads: int = 1, n_layers: int = 1):
    torch.manual_seed(0)
    return build_backbone("sasrec-af", 20, dim=DIM, max_len=MAX_LEN, n_heads=n_heads,
                          n_layers=n_layers).double().eval()


def layer_norm(x, norm):
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + norm.eps) * norm.weight + norm.bias


def left_padded_reference(net, history: torch.Tensor) -> torch.Tensor:
    """One row as AlphaFuse feeds it: zeros, then the n items, in L columns; positions 0..L-1;
    keys whose input row is zero masked with -2^32+1, causal mask, scores / sqrt(D)."""
    n, width = len(history), MAX_LEN
    x = torch.zeros(width, DIM, dtype=torch.float64)
    x[width - n:] = history
    mask = torch.zeros(width, 1, dtype=torch.float64)
    mask[width - n:] = 1
    s = (x + net.position.weight) * mask
    for block in net.blocks:
        q_in = layer_norm(s, block.query_norm)
        q, k, v = block.query(q_in), block.key(s), block.value(s)
        size = DIM // block.n_heads
        out = torch.zeros(width, DIM, dtype=torch.float64)
        for h in range(block.n_heads):
            cols = slice(h * size, (h + 1) * size)
            scores = q[:, cols] @ k[:, cols].T / math.sqrt(DIM)
            for i in range(width):
                for j in range(width):
                    if j > i or s[j].abs().sum() == 0:
                        scores[i, j] = -(2.0**32) + 1
            out[:, cols] = torch.softmax(scores, dim=-1) @ v[:, cols]
        f = layer_norm(out + q_in, block.ffn_norm)
        inner = block.ffn_out(torch.relu(block.ffn_in(f)))
        s = layer_norm(f + inner, block.ffn_residual_norm) * mask
    return layer_norm(s, net.final_norm)[width - n:]


@pytest.mark.parametrize("n_heads, n_layers", [(1, 1), (2, 1), (2, 2)])
def test_right_padded_rows_give_what_the_left_padded_layout_gives(n_heads, n_layers):
    net = model(n_heads, n_layers)
    gen = torch.Generator().manual_seed(1)
    lengths = [1, 3, 6, 4]
    rows = [torch.randn(n, DIM, generator=gen, dtype=torch.float64) for n in lengths]
    x = torch.zeros(len(rows), 6, DIM, dtype=torch.float64)
    for b, row in enumerate(rows):
        x[b, : len(row)] = row
    with torch.no_grad():
        hidden = net(x, torch.tensor(lengths))
        for b, row in enumerate(rows):
            expected = left_padded_reference(net, row)
            torch.testing.assert_close(hidden[b, : len(row)], expected, rtol=0, atol=1e-12)
        last = gather_last(hidden, torch.tensor(lengths))
        torch.testing.assert_close(last[2], left_padded_reference(net, rows[2])[-1])


def test_the_last_item_always_sits_at_position_l_minus_1():
    net = model()
    positions = net.positions(torch.tensor([1, 3, 6]), width=6)
    assert positions.tolist() == [[5, 5, 5, 5, 5, 5], [3, 4, 5, 5, 5, 5], [0, 1, 2, 3, 4, 5]]
    # (pads clamp to L-1; they are masked as keys and zeroed, so any id would do)


def test_one_block_one_head_no_output_projection_and_dropout_01_by_default():
    net = build_backbone("sasrec-af", 20, dim=DIM, max_len=MAX_LEN)
    assert len(net.blocks) == 1 and net.blocks[0].n_heads == 1
    assert {m.p for m in net.modules() if isinstance(m, Dropout)} == {0.1}
    block_weights = sum(p.numel() for p in net.blocks[0].parameters())
    # W_q, W_k, W_v, W_1, W_2 (D×D + D each) and three LayerNorms (2D each): no W_o
    assert block_weights == 5 * (DIM * DIM + DIM) + 3 * 2 * DIM


def test_a_history_longer_than_the_window_is_refused():
    net = model()
    with pytest.raises(ValueError, match="longer than max_len 6"):
        net(torch.zeros(1, 7, DIM, dtype=torch.float64), torch.tensor([7]))
