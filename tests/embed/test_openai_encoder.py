"""The `openai` encoder against a local OpenAI-compatible server (http.server in a thread)."""

from __future__ import annotations

import json
import socket
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

import h5py
import numpy as np
import pytest
from conftest import TEXTS
from fake_embeddings_api import KEY, FakeEmbeddingsServer, failure, server_vector

from specrec.cli import main
from specrec.embed.embed import embed
from specrec.embed.encoders import openai_api
from specrec.embed.encoders.openai_api import (
    RetryPolicy,
    cost_summary,
    request_batches,
    retry_after_s,
)
from specrec.embed.encoders.resolve import resolve_encoder
from specrec.embed.partial import partial_root
from specrec.embed.store import open_embeddings
from specrec.errors import SpecrecError


@pytest.fixture
def server():
    found = FakeEmbeddingsServer()
    yield found
    found.close()


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    """Record the backoff waits instead of sleeping (base delay 1 ms)."""
    waited: list[float] = []
    monkeypatch.setattr(openai_api, "RETRY", RetryPolicy(base_delay_s=0.001, sleep=waited.append))
    return waited


@pytest.fixture(autouse=True)
def api_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


def sent(text: str) -> str:
    return text or " "  # the API refuses empty inputs


def run(dataset: Path, out: Path, server: FakeEmbeddingsServer, **options):
    meta = embed(dataset=dataset, encoder="openai", out=out, base_url=server.base_url, **options)
    return open_embeddings(out).load()[1:], meta


def test_rows_are_the_servers_vectors_in_item_order_after_a_429_and_a_500(
    tmp_path, tiny_dataset, server, sleeps, capsys
):
    server.failures = [failure(429, {"Retry-After": "2"}), failure(500)]
    rows, meta = run(tiny_dataset, tmp_path / "e", server, dimensions=8, batch_size=3)
    expected = np.stack([server_vector(sent(text), 8) for text in TEXTS])
    np.testing.assert_array_equal(rows, expected)
    assert sleeps == [2.0, 0.002]  # Retry-After, then base * 2^1 for the second failure
    assert [len(inputs) for inputs in server.inputs] == [3, 3, 3, 3, 1]  # the first sent 3 times
    longest_first = sorted(range(7), key=lambda i: (-len(TEXTS[i]), i))
    answered = [text for inputs in server.inputs[2:] for text in inputs]
    assert answered == [sent(TEXTS[i]) for i in longest_first]
    host = server.base_url.split("/")[2]
    assert {k: meta.config[k] for k in ("backend", "model", "api_host", "dimensions")} == {
        "backend": "openai", "model": "text-embedding-3-large", "api_host": host, "dimensions": 8,
    }  # fmt: skip
    assert KEY not in (tmp_path / "e" / "meta.json").read_text()
    with h5py.File(tmp_path / "e" / "embeddings.h5") as f:
        assert KEY not in str(dict(f.attrs)) and f.attrs["api_host"] == host
    bound = sum(len(sent(text).encode()) for text in TEXTS)
    printed = " ".join(capsys.readouterr().err.split())
    assert f"7 texts, at most {bound:,} tokens" in printed
    assert "at most $0.01 at $0.13 per 1M tokens" in printed  # 302 tokens: under a cent


def test_cost_summary_bounds_tokens_by_bytes_and_rounds_the_cost_up():
    small = resolve_encoder("openai", model="text-embedding-3-small", base_url="http://h:1/v1")
    texts = ["x" * 12_345_000, "é" * 339]  # 12,345,678 bytes
    assert cost_summary(small, texts) == (
        "text-embedding-3-small at h:1: 2 texts, at most 12,345,678 tokens (counted as UTF-8 "
        "bytes; English runs about 4 bytes per token), at most $0.25 at $0.02 per 1M tokens"
    )  # 12,345,678 * 0.02 / 1e6 = 0.2469...
    local = resolve_encoder("openai", model="Qwen/Qwen3-Embedding-0.6B", base_url="http://h:1/v1")
    assert cost_summary(local, [""]).endswith(
        "1 texts, at most 1 tokens (counted as UTF-8 bytes; English runs about 4 bytes per token), "
        "no price known for 'Qwen/Qwen3-Embedding-0.6B' (a local server costs nothing)"
    )


def test_dimensions_and_normalize_change_the_vectors_and_the_fingerprint(
    tmp_path, tiny_dataset, server
):
    rows8, meta8 = run(tiny_dataset, tmp_path / "e8", server, dimensions=8)
    rows4, meta4 = run(tiny_dataset, tmp_path / "e4", server, dimensions=4, normalize=True)
    raw4 = np.stack([server_vector(sent(text), 4) for text in TEXTS])
    # float32 division by a float32 norm: a few units in the last place
    np.testing.assert_allclose(rows4, raw4 / np.linalg.norm(raw4, axis=1, keepdims=True),
                               rtol=4 * np.finfo(np.float32).eps)  # fmt: skip
    assert rows8.shape == (7, 8) and meta4.fingerprint != meta8.fingerprint


def test_kill_and_resume_sends_only_the_remaining_texts(
    tmp_path, tiny_dataset, server, monkeypatch
):
    waited: list[float] = []
    monkeypatch.setattr(openai_api, "RETRY", RetryPolicy(attempts=3, sleep=waited.append))
    out = tmp_path / "e"
    server.fail_after = 2  # 7 items in batches of 2: batches 1-2 answered, batch 3 never
    with pytest.raises(SpecrecError, match="still fails after 3 attempts .*HTTP 500") as info:
        run(tiny_dataset, out, server, dimensions=8, batch_size=2)
    assert "\n" not in str(info.value) and "run the same command again" in str(info.value)
    assert waited == [1.0, 2.0] and len(server.inputs) == 5
    assert not out.exists() and not list(tmp_path.glob("e.tmp-*"))
    shard = partial_root(out) / "shard-0-of-1"
    assert json.loads((shard / "progress.json").read_text())["batches"] == 2
    assert (shard / "rows.f32").stat().st_size == 4 * 8 * 4  # 4 rows of 8 float32

    server.fail_after, server.inputs = None, []
    rows, meta = run(tiny_dataset, out, server, dimensions=8, batch_size=2)
    longest_first = sorted(range(7), key=lambda i: (-len(TEXTS[i]), i))
    remaining = [sent(TEXTS[i]) for i in longest_first[4:]]
    assert server.inputs == [remaining[:2], remaining[2:]]
    assert meta.stats["resumed_items"] == 4 and not partial_root(out).exists()
    np.testing.assert_array_equal(rows, np.stack([server_vector(sent(t), 8) for t in TEXTS]))

    monkeypatch.delenv("OPENAI_API_KEY")  # up to date: skipped, neither key nor server needed
    server.inputs = []
    again = run(tiny_dataset, out, server, dimensions=8, batch_size=2)[1]
    assert again.fingerprint == meta.fingerprint and server.inputs == []


@pytest.mark.parametrize(
    ("answer", "match"),
    [
        (failure(401), r"HTTP 401: Incorrect API key provided\); set OPENAI_API_KEY"),
        (failure(429, code="insufficient_quota"), r"HTTP 429: .*add credit to the account"),
    ],
)
def test_errors_that_retrying_cannot_fix_fail_at_once(
    tmp_path, tiny_dataset, server, sleeps, answer, match
):
    server.failures = [answer]
    with pytest.raises(SpecrecError, match=match) as info:
        run(tiny_dataset, tmp_path / "e", server)
    assert "\n" not in str(info.value) and len(server.inputs) == 1 and sleeps == []
    assert not (tmp_path / "e").exists()


def test_request_batches_respect_the_input_and_token_limits(tmp_path):
    settings = resolve_encoder("openai", base_url="http://127.0.0.1:1/v1")
    texts = ["a" * 100, "b" * 100, "c" * 100, "é" * 60, ""]  # é: 2 UTF-8 bytes
    items = np.arange(1, 6)
    split = lambda runs: [run.tolist() for run in runs]  # noqa: E731
    assert split(request_batches(settings, texts, items, 2048, max_tokens=230)) == [
        [1, 2], [3, 4, 5],
    ]  # fmt: skip
    assert split(request_batches(settings, texts, items, 2, 250)) == [[1, 2], [3, 4], [5]]
    assert split(request_batches(settings, ["x" * 300, "y"], items[:2], 64, 250)) == [[1], [2]]
    many = request_batches(settings, ["z"] * 3000, np.arange(1, 3001), 5000)
    assert [len(run) for run in many] == [2048, 952]
    # the prompt is sent too: every text 9 bytes longer, the empty one "passage: " alone
    prompted = resolve_encoder("openai", base_url="http://127.0.0.1:1/v1", prompt="passage: ")
    assert split(request_batches(prompted, texts, items, 2048, max_tokens=230)) == [
        [1, 2], [3], [4, 5],
    ]  # fmt: skip


def test_retry_after_and_backoff():
    in_100_s = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=100), usegmt=True)
    assert retry_after_s({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert retry_after_s({"retry-after": "3"}) == 3.0
    assert 90.0 < retry_after_s({"retry-after": in_100_s}) <= 100.0
    assert retry_after_s({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    assert retry_after_s({"retry-after": "Wed, 21 Oct 2015 07:28:00 -0000"}) == 0.0
    assert retry_after_s({"retry-after": "soon"}) is None
    assert retry_after_s({}) is None
    policy = RetryPolicy(base_delay_s=1.0, max_delay_s=60.0)
    assert [policy.delay(attempt, None) for attempt in (0, 3, 10)] == [1.0, 8.0, 60.0]
    assert policy.delay(0, 900.0) == openai_api.MAX_RETRY_AFTER_S


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"encoder": "openai", "pooling": "mean"}, "--pooling does not apply to encoder 'openai'"),
        ({"encoder": "openai", "max_length": 8}, "--max-length does not apply"),
        ({"encoder": "openai", "dimensions": 0}, "--dimensions must be a positive number"),
        ({"encoder": "openai", "base_url": "ftp://host/v1"}, "is not an http\\(s\\) URL"),
        ({"encoder": "minilm", "base_url": "http://127.0.0.1:1/v1"}, "are for API encoders"),
        ({"encoder": "minilm", "dimensions": 8}, "are for API encoders"),
    ],
)
def test_options_that_do_not_fit_the_encoder_are_refused(tmp_path, tiny_dataset, options, match):
    with pytest.raises(SpecrecError, match=match) as info:
        embed(dataset=tiny_dataset, out=tmp_path / "e", device="cpu", **options)
    assert "\n" not in str(info.value) and not (tmp_path / "e").exists()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def cli_fails(tmp_path: Path, dataset: Path, base_url: str, capsys) -> str:
    out = tmp_path / "e"
    with pytest.raises(SystemExit) as info:
        main(["embed", "--dataset", str(dataset), "--encoder", "openai", "--out", str(out),
              "--base-url", base_url])  # fmt: skip
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err
    assert not out.exists() and not list(tmp_path.glob("e.tmp-*"))
    assert not partial_root(out).exists()
    return err


def test_cli_without_a_key(tmp_path, tiny_dataset, server, monkeypatch, capsys):
    monkeypatch.delenv("OPENAI_API_KEY")
    err = cli_fails(tmp_path, tiny_dataset, server.base_url, capsys)
    assert "needs an API key in OPENAI_API_KEY" in err and server.inputs == []


def test_cli_with_an_unreachable_base_url(tmp_path, tiny_dataset, capsys):
    url = f"http://127.0.0.1:{closed_port()}/v1"
    err = cli_fails(tmp_path, tiny_dataset, url, capsys)
    assert f"cannot reach the embeddings API at {url}" in err and "check --base-url" in err
