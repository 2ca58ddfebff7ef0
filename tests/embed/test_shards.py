"""Length-sorted batching and multi-GPU shard/merge as pure functions (no process group)."""

from __future__ import annotations

import numpy as np

from specrec.embed import shards


def test_length_order_longest_first_ties_by_index():
    texts = ["bb", "a", "dddd", "", "cc", "dddd"]
    assert shards.length_order(texts).tolist() == [3, 6, 1, 5, 2, 4]


def test_batches_are_consecutive_slices():
    parts = shards.batches(np.arange(1, 8), 3)
    assert [p.tolist() for p in parts] == [[1, 2, 3], [4, 5, 6], [7]]


def test_strided_shards_cover_every_item_once_with_a_mix_of_lengths():
    rng = np.random.default_rng(0)
    texts = ["x" * int(n) for n in rng.integers(0, 200, size=101)]
    order = shards.length_order(texts)
    parts = [shards.shard(order, rank, 4) for rank in range(4)]
    assert sorted(np.concatenate(parts).tolist()) == list(range(1, 102))
    assert [len(p) for p in parts] == [26, 25, 25, 25]

    def spread(groups):
        means = [np.mean([len(texts[i - 1]) for i in g]) for g in groups]
        return max(means) - min(means)

    # every rank gets long and short texts, unlike contiguous ranges of the sorted order
    assert spread(parts) < 5.0 < 100.0 < spread(np.array_split(order, 4))


def test_merge_puts_rows_back_in_index_order():
    texts = ["a" * n for n in (5, 1, 9, 3, 7, 2, 8)]
    order = shards.length_order(texts)
    for world in (1, 2, 3, 8):
        # each rank's rows, in its shard order, carry the item index as their value
        rows = [np.repeat(shards.shard(order, r, world)[:, None], 2, axis=1).astype(np.float32)
                for r in range(world)]  # fmt: skip
        merged = shards.merge(order, rows, np.full((8, 2), -1.0, dtype=np.float32))
        assert merged[1:, 0].tolist() == list(range(1, 8)) and merged[0, 0] == -1.0
