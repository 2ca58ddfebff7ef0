"""Metrics and full-sort ranks on hand-computed rankings: ties, history masks, K > catalogue."""

import math

import numpy as np
import pytest
import torch

from specrec.errors import SpecrecError
from specrec.evaluate.metrics import parse_metric, per_user, summarize
from specrec.evaluate.ranking import target_ranks


def test_metrics_from_hand_computed_ranks():
    ranks = np.array([1, 3, 10, 11, 50])
    m = summarize(ranks, [10])
    assert m["recall@10"] == pytest.approx(3 / 5)
    assert m["hit@10"] == m["recall@10"]
    expected_ndcg = (1 / math.log2(2) + 1 / math.log2(4) + 1 / math.log2(11)) / 5
    assert m["ndcg@10"] == pytest.approx(expected_ndcg)
    assert m["mrr@10"] == pytest.approx((1 + 1 / 3 + 1 / 10) / 5)


def test_k_larger_than_catalogue_counts_every_user():
    ranks = np.array([1, 2, 3])  # a 3-item catalogue
    m = summarize(ranks, [100])
    assert m["recall@100"] == 1.0
    assert m["ndcg@100"] == pytest.approx((1 + 1 / math.log2(3) + 0.5) / 3)


def test_bad_metric_names():
    assert parse_metric("ndcg@20") == ("ndcg", 20)
    for bad in ("ndcg", "foo@10", "ndcg@0", "ndcg@x"):
        with pytest.raises(SpecrecError):
            parse_metric(bad)
    with pytest.raises(SpecrecError):
        summarize(np.array([], dtype=int), [10])
    assert per_user(np.array([2]), "mrr@1")[0] == 0.0


def _table(rows):
    return torch.tensor([[0.0, 0.0]] + rows)


def test_ranks_pessimistic_ties_and_padding_never_ranked():
    # items 1..4 scores for user (1, 0): 3, 5, 5, 1 ; padding row 0 would score 0
    table = _table([[3, 0], [5, 0], [5, 0], [1, 0]])
    user = torch.tensor([[1.0, 0.0]] * 4)
    targets = torch.tensor([1, 2, 3, 4])
    ranks = target_ranks(user, table, targets)
    # item 2 ties with item 3: both get rank 2 (the other tied item counts against the target)
    assert ranks.tolist() == [3, 2, 2, 4]


def test_ranks_with_negative_scores_ignore_padding_row():
    table = _table([[-1, 0], [-2, 0]])
    ranks = target_ranks(torch.tensor([[1.0, 0.0]]), table, torch.tensor([2]))
    assert ranks.tolist() == [2]  # the zero padding row would outrank it if it were a candidate


def test_ranks_chunked_equal_unchunked_and_bias():
    gen = torch.Generator().manual_seed(0)
    table = torch.randn(101, 8, generator=gen)
    table[0] = 0
    user = torch.randn(16, 8, generator=gen)
    targets = torch.randint(1, 101, (16,), generator=gen)
    bias = torch.randn(101, generator=gen)
    full = target_ranks(user, table, targets, bias=bias)
    chunked = target_ranks(user, table, targets, bias=bias, chunk_items=7)
    assert torch.equal(full, chunked)
    scores = user @ table[1:].T + bias[1:]
    own = scores.gather(1, (targets - 1)[:, None])
    assert torch.equal(full, (scores >= own).sum(1))


def test_ties_across_chunks_stay_pessimistic():
    table = _table([[3, 0], [5, 0], [5, 0], [1, 0]])  # tied items 2 and 3 fall in two chunks
    user = torch.tensor([[1.0, 0.0]] * 4)
    for chunk_items in (1, 2, 3):
        ranks = target_ranks(user, table, torch.tensor([1, 2, 3, 4]), chunk_items=chunk_items)
        assert ranks.tolist() == [3, 2, 2, 4]


def test_one_chunk_is_scored_once_and_c_chunks_2c_minus_1_times(monkeypatch):
    from specrec.evaluate import ranking

    calls = []
    real = ranking._chunk_scores
    monkeypatch.setattr(ranking, "_chunk_scores", lambda *a: calls.append(a[3]) or real(*a))
    gen = torch.Generator().manual_seed(1)
    table, user = torch.randn(31, 4, generator=gen), torch.randn(6, 4, generator=gen)
    targets = torch.tensor([1, 5, 11, 17, 25, 30])
    scores = user @ table[1:].T
    reference = (scores >= scores.gather(1, (targets - 1)[:, None])).sum(1)
    assert torch.equal(target_ranks(user, table, targets, chunk_items=30), reference)
    assert calls == [1]
    calls.clear()  # chunks start at 1, 11, 21; every one holds a target
    assert torch.equal(target_ranks(user, table, targets, chunk_items=10), reference)
    assert sorted(calls) == [1, 1, 11, 11, 21]


def test_history_mask_removes_items_but_never_the_target():
    table = _table([[4, 0], [3, 0], [2, 0], [1, 0]])
    user = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    targets = torch.tensor([3, 1])
    exclude = torch.tensor([[1, 2, 0], [1, 2, 0]])  # second user's target 1 is in its history
    ranks = target_ranks(user, table, targets, exclude=exclude, chunk_items=3)
    assert ranks.tolist() == [1, 1]
    assert target_ranks(user, table, targets).tolist() == [3, 1]
