"""Training samples as (start, length, first supervised position) rows over the event arrays.

`prefixes` (RecBole): one row per training target, its history = the <= L events before it, loss
at the last position only. `windows`: one row per window of <= L events of a user's training
sequence, loss at every position whose target is new to that window: the same targets, a fraction
of the forward passes. Cloze (BERT4Rec) batches mask items of the same sequences instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from specrec.data.dataset import SPLIT_CODE, SequenceData
from specrec.errors import SpecrecError

SAMPLE_MODES = ("prefixes", "windows")


@dataclass
class Batch:
    """Right-padded ids `seq [B, L]`, `lengths [B]`, `targets [B, L]` (0 = no loss there),
    `masked [B, L]` (cloze only), `timestamps [B, L + 1]` and `users [B]` (each row's user,
    1..n_users; `Samples` fills it, for embedders whose loss needs it)."""

    seq: Tensor
    lengths: Tensor
    targets: Tensor
    timestamps: Tensor
    masked: Tensor | None = None
    users: Tensor | None = None

    def to(self, device: torch.device) -> "Batch":
        move = lambda t: None if t is None else t.to(device, non_blocking=True)  # noqa: E731
        return Batch(move(self.seq), move(self.lengths), move(self.targets),
                     move(self.timestamps), move(self.masked), move(self.users))


class Samples:
    """Rows over the training sequences; `batches()` yields shuffled `Batch`es for one epoch."""

    def __init__(
        self, data: SequenceData, max_len: int, mode: str, stride: int | None = None,
        jitter: bool = True,
    ):
        if mode not in SAMPLE_MODES:
            raise SpecrecError(f"unknown samples mode '{mode}'; choose one of {SAMPLE_MODES}")
        stride = max_len if stride is None else stride
        if not 1 <= stride <= max_len:
            raise SpecrecError(f"--window-stride must be in 1..{max_len} (max length), not {stride}")
        self.data, self.max_len, self.mode, self.stride = data, max_len, mode, stride
        self.jitter = jitter and mode == "windows"
        self.is_target = np.zeros(len(data.items) + 1, dtype=bool)
        self.is_target[data.targets("train")] = True
        if not self.is_target.any():
            raise SpecrecError(f"dataset '{data.path}' has no training targets")
        rows = self._prefix_rows() if mode == "prefixes" else self._window_rows()
        self.start, self.length, self.sup_from = (np.asarray(r, dtype=np.int64) for r in rows)

    @property
    def n_targets(self) -> int:
        return int(self.is_target.sum())

    def __len__(self) -> int:
        return len(self.start)

    def _prefix_rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        events = np.flatnonzero(self.is_target)
        user_start = self.data.offsets[self.data.user_of(events)]
        start = np.maximum(user_start, events - self.max_len)
        length = events - start
        return start, length, length - 1

    def _window_rows(self, shift: np.ndarray | None = None) -> tuple[list[int], list[int], list[int]]:
        """Windows from the end of each user's training sequence; with `shift[u]` in [0, S) the
        first window brings only `shift[u]` new targets, moving every later boundary."""
        offsets, L, S = self.data.offsets, self.max_len, self.stride
        starts, lengths, sup = [], [], []
        for user in range(1, self.data.n_users + 1):
            first = offsets[user]
            user_targets = np.flatnonzero(self.is_target[first : offsets[user + 1]])
            if user_targets.size == 0:
                continue
            hi = first + int(user_targets[-1])  # the last target event of this user
            step = int(shift[user]) if shift is not None and shift[user] > 0 else S
            while hi > first:
                start = max(first, hi - L)
                starts.append(start)
                lengths.append(hi - start)
                sup.append(max(0, hi - step - start))
                hi -= step
                step = S
        return starts, lengths, sup

    def rows(self, epoch: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """This epoch's (start, length, sup_from); jittered windows move their boundaries by a
        seeded random shift per user and epoch, so a target's history differs between epochs."""
        if not self.jitter:
            return self.start, self.length, self.sup_from
        shift = np.random.default_rng([seed, epoch, 17]).integers(0, self.stride, self.data.n_users + 1)
        return tuple(np.asarray(r, dtype=np.int64) for r in self._window_rows(shift))

    def batches(
        self, batch_size: int, epoch: int, seed: int, rank: int = 0, world_size: int = 1,
        cloze: tuple[float, float] | None = None,
    ):
        """Yield this rank's shuffled batches of an epoch; `cloze=(mask_ratio, last_only_prob)`."""
        rows = self.rows(epoch, seed)
        order = torch.randperm(len(rows[0]), generator=torch.Generator().manual_seed(
            seed * 1_000_003 + epoch)).numpy()
        order = order[: len(order) - len(order) % world_size][rank::world_size]  # equal per rank
        rng = np.random.default_rng([seed, epoch, rank])
        for begin in range(0, len(order), batch_size):
            picked = tuple(r[order[begin : begin + batch_size]] for r in rows)
            yield self._cloze(*picked, rng, *cloze) if cloze else self._causal(*picked)

    def _gather(self, start: np.ndarray, length: np.ndarray) -> tuple[np.ndarray, ...]:
        width = int(length.max())
        cols = np.arange(width + 1)
        index = start[:, None] + cols[None, :]
        valid = cols[None, :] <= length[:, None]
        index = np.where(valid, index, 0)
        items = np.where(valid, self.data.items[index], 0).astype(np.int64)
        times = np.where(valid, self.data.timestamps[index], 0)
        return index, items, times, width

    def _causal(self, start: np.ndarray, length: np.ndarray, sup_from: np.ndarray) -> Batch:
        index, items, times, width = self._gather(start, length)
        cols = np.arange(width)[None, :]
        supervised = (cols < length[:, None]) & (cols >= sup_from[:, None])
        supervised &= self.is_target[np.where(supervised, index[:, 1:], len(self.is_target) - 1)]
        targets = np.where(supervised, items[:, 1:], 0)
        seq = np.where(cols < length[:, None], items[:, :-1], 0)
        return Batch(torch.from_numpy(seq), torch.from_numpy(length), torch.from_numpy(targets),
                     torch.from_numpy(times), users=torch.from_numpy(self.data.user_of(start)))

    def _cloze(self, start: np.ndarray, length: np.ndarray, sup_from: np.ndarray,
               rng: np.random.Generator, ratio: float, last_prob: float) -> Batch:
        """Sequences = history + its last target (<= L items), masked as RecBole's BERT4Rec."""
        end = start + length + 1
        start = np.maximum(start, end - self.max_len)
        length = end - start
        _, items, times, width = self._gather(start, length - 1)
        valid = np.arange(width + 1)[None, :] < length[:, None]
        if rng.random() < last_prob:
            masked = np.zeros_like(valid)
            masked[np.arange(len(start)), length - 1] = True
        else:
            masked = valid & (rng.random(valid.shape) < ratio)
        seq = np.where(valid, items, 0)
        targets = np.where(masked, seq, 0)
        return Batch(torch.from_numpy(seq), torch.from_numpy(length), torch.from_numpy(targets),
                     torch.from_numpy(np.concatenate([times, times[:, -1:]], axis=1)),
                     torch.from_numpy(masked), torch.from_numpy(self.data.user_of(start)))
