"""Prefix and window samples supervise exactly the training targets, with the right histories."""

import numpy as np
import pytest
import torch

from specrec.data.dataset import load_dataset
from specrec.errors import SpecrecError
from specrec.testing.synthetic import write_sequences
from specrec.train.samples import Samples


@pytest.fixture
def data(tmp_path):
    sequences = [list(range(1, 13)), [5, 6, 7, 8], [9, 3, 4]]
    write_sequences(tmp_path / "d", sequences, n_items=12)
    return load_dataset(tmp_path / "d")


def _supervised(samples):
    pairs = []
    for batch in samples.batches(100, epoch=0, seed=0):
        for row in range(batch.seq.size(0)):
            for pos in np.flatnonzero(batch.targets[row].numpy()):
                history = batch.seq[row, : pos + 1].tolist()
                pairs.append((tuple(history), int(batch.targets[row, pos])))
    return sorted(pairs)


def test_prefixes_are_recbole_samples(data):
    samples = Samples(data, max_len=5, mode="prefixes")
    # loo: targets are positions 1..n-3 of each user: 9 + 1 + 0 = 10 training samples
    assert len(samples) == samples.n_targets == 10
    pairs = _supervised(samples)
    assert ((1, 2, 3, 4, 5), 6) in pairs  # full history of 5
    assert ((4, 5, 6, 7, 8), 9) in pairs  # truncated to the last 5 items
    assert ((5,), 6) in pairs
    assert all(len(h) <= 5 for h, _ in pairs)


def test_windows_cover_the_same_targets_once(data):
    prefixes = Samples(data, max_len=5, mode="prefixes")
    for stride in (5, 3, 1):
        windows = Samples(data, max_len=5, mode="windows", stride=stride)
        got = _supervised(windows)
        assert sorted(t for _, t in got) == sorted(t for _, t in _supervised(prefixes))
        if stride == 1:  # stride 1 gives every target its full history: identical to prefixes
            assert got == _supervised(prefixes)
    assert len(Samples(data, max_len=5, mode="windows")) == 2 + 1  # user 1: 9 targets in 2 windows


def test_valid_and_test_items_never_enter_training(data):
    for mode in ("prefixes", "windows"):
        for batch in Samples(data, 5, mode).batches(100, 0, 0):
            assert 12 not in batch.seq.tolist() and 12 not in batch.targets.tolist()
            assert 11 not in batch.targets.tolist()


def test_cloze_masks_only_real_items(data):
    samples = Samples(data, 5, "windows")
    for epoch in range(6):
        for batch in samples.batches(100, epoch, 0, cloze=(0.5, 0.5)):
            valid = np.arange(batch.seq.size(1))[None, :] < batch.lengths.numpy()[:, None]
            assert not (batch.masked.numpy() & ~valid).any()
            assert (batch.targets.numpy()[batch.masked.numpy()] > 0).all()


def test_sharding_splits_rows_between_ranks(data):
    samples = Samples(data, 5, "prefixes")
    rank_rows = [sum(b.seq.size(0) for b in samples.batches(3, 0, 0, rank, 2)) for rank in (0, 1)]
    assert rank_rows[0] == rank_rows[1] == len(samples) // 2  # equal counts keep DDP in step


def test_bad_sample_options(data):
    with pytest.raises(SpecrecError):
        Samples(data, 5, "sessions")
    with pytest.raises(SpecrecError):
        Samples(data, 5, "windows", stride=6)


def _supervised_in_epoch(samples, epoch):
    pairs = []
    for batch in samples.batches(100, epoch=epoch, seed=0):
        for row in range(batch.seq.size(0)):
            for pos in np.flatnonzero(batch.targets[row].numpy()):
                pairs.append((tuple(batch.seq[row, : pos + 1].tolist()), int(batch.targets[row, pos])))
    return sorted(pairs)


def test_jittered_windows_move_boundaries_but_keep_each_target_once(tmp_path):
    write_sequences(tmp_path / "long", [list(range(1, 41)), list(range(41, 71))], n_items=70)
    data = load_dataset(tmp_path / "long")
    samples = Samples(data, max_len=8, mode="windows")
    expected = sorted(int(data.items[e]) for e in np.flatnonzero(samples.is_target))
    epochs = [_supervised_in_epoch(samples, epoch) for epoch in range(4)]
    for pairs in epochs:
        assert sorted(t for _, t in pairs) == expected
    assert len({tuple(p) for p in epochs}) > 1  # histories differ between epochs
    fixed = Samples(data, max_len=8, mode="windows", jitter=False)
    assert _supervised_in_epoch(fixed, 0) == _supervised_in_epoch(fixed, 3)


def test_every_batch_names_the_user_of_each_row(data):
    """`Batch.users[b]`: the user whose events row b holds (prefixes, windows and cloze)."""
    sequences = [data.items[data.offsets[u] : data.offsets[u + 1]].tolist() for u in (1, 2, 3)]
    for mode, cloze in (("prefixes", None), ("windows", None), ("windows", (0.5, 0.5))):
        seen = []
        for batch in Samples(data, 5, mode, stride=2).batches(4, 0, 0, cloze=cloze):
            assert batch.users.shape == batch.lengths.shape and batch.users.dtype.is_signed
            for row, user in enumerate(batch.users.tolist()):
                items = batch.seq[row, : int(batch.lengths[row])].tolist()
                whole = sequences[user - 1]
                spans = [whole[i : i + len(items)] for i in range(len(whole) - len(items) + 1)]
                assert items in spans, (mode, cloze, row, user)  # cloze seqs keep their items
                seen.append(user)
        assert sorted(set(seen)) == [1, 2]  # user 3 (3 events, loo) has no training target
        assert batch.to(torch.device("cpu")).users is not None
