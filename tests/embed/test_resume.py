"""Interrupted runs resume from the last completed batch and give bit-identical results."""

from __future__ import annotations

import numpy as np
import pytest

from specrec.embed import embed as embed_module
from specrec.embed.embed import embed
from specrec.embed.partial import PartialRows, partial_root
from specrec.embed.store import open_embeddings


class Interrupt:
    """Wraps the real loader: counts encode calls, raises KeyboardInterrupt at call `stop`."""

    def __init__(self, monkeypatch, stop: int | None = None) -> None:
        self.calls, self.stop = 0, stop
        real = embed_module.load_encoder

        def load(*args, **kwargs):
            encoder = real(*args, **kwargs)
            original = encoder.encode

            def encode(texts):
                self.calls += 1
                if self.calls == self.stop:
                    raise KeyboardInterrupt
                return original(texts)

            encoder.encode = encode
            return encoder

        monkeypatch.setattr(embed_module, "load_encoder", load)


def _run(dataset, out, **options):
    return embed(dataset=dataset, encoder="minilm", out=out, batch_size=2, device="cpu", **options)


def test_resume_after_interrupt_is_bit_identical(tmp_path, tiny_dataset, monkeypatch):
    _run(tiny_dataset, tmp_path / "full")  # 7 items / batch 2 = 4 batches
    full = open_embeddings(tmp_path / "full").load()

    out = tmp_path / "resumed"
    Interrupt(monkeypatch, stop=3)
    with pytest.raises(KeyboardInterrupt):
        _run(tiny_dataset, out)
    assert not out.exists() and not list(tmp_path.glob("resumed.tmp-*"))
    shard_dir = partial_root(out) / "shard-0-of-1"
    assert (shard_dir / "rows.f32").stat().st_size == 2 * 2 * 384 * 4  # two batches of two rows

    counter = Interrupt(monkeypatch)
    meta = _run(tiny_dataset, out)
    assert counter.calls == 2 and meta.stats["resumed_items"] == 4
    np.testing.assert_array_equal(open_embeddings(out).load(), full)
    assert not partial_root(out).exists()


def test_partial_state_of_another_config_is_not_reused(tmp_path, tiny_dataset, monkeypatch):
    out = tmp_path / "e"
    Interrupt(monkeypatch, stop=3)
    with pytest.raises(KeyboardInterrupt):
        _run(tiny_dataset, out)
    counter = Interrupt(monkeypatch)
    meta = _run(tiny_dataset, out, prompt="passage: ")  # another fingerprint: start over
    assert counter.calls == 4 and meta.stats["resumed_items"] == 0


def test_torn_append_is_cut_back_to_the_recorded_rows(tmp_path):
    store = PartialRows(tmp_path / "s", key="k1")
    first = np.arange(6, dtype=np.float32).reshape(2, 3)
    store.append(first)
    with open(tmp_path / "s" / "rows.f32", "ab") as handle:
        handle.write(b"\x01" * 7)  # a crash in the middle of the next append
    again = PartialRows(tmp_path / "s", key="k1")
    assert (again.batches_done, again.rows_done, again.dim) == (1, 2, 3)
    again.append(first + 10)
    np.testing.assert_array_equal(again.rows(), np.vstack([first, first + 10]))
    assert PartialRows(tmp_path / "s", key="k2").batches_done == 0
    assert not (tmp_path / "s").exists()
