"""The `openai` backend: item vectors from an OpenAI-compatible embeddings API (OpenAI, vLLM)."""

from __future__ import annotations

import math
import os
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit
from urllib.request import getproxies

import numpy as np

from specrec.console import log
from specrec.embed.encoders.base import EncoderSettings, EncoderSpec
from specrec.errors import SpecrecError

DEFAULT_BASE_URL = "https://api.openai.com/v1"
MAX_INPUTS_PER_REQUEST = 2048  # the API's limit on inputs per request
MAX_TOKENS_PER_REQUEST = 300_000  # the API's limit on tokens summed over a request's inputs
REQUEST_TIMEOUT_S = 120.0
CONNECT_TIMEOUT_S = 10.0
MAX_RETRY_AFTER_S = 600.0
TRANSIENT_STATUSES = (408, 409, 429)  # and every 5xx
# US dollars per 1M input tokens (OpenAI's standard price list); models not listed print no cost.
PRICE_USD_PER_MILLION_TOKENS = {
    "text-embedding-3-large": 0.13,
    "text-embedding-3-small": 0.02,
    "text-embedding-ada-002": 0.10,
}


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait after a 429, a 5xx or a lost connection."""

    attempts: int = 6
    base_delay_s: float = 1.0
    max_delay_s: float = 60.0
    sleep: Callable[[float], None] = time.sleep

    def delay(self, attempt: int, retry_after_s: float | None) -> float:
        """The server's Retry-After when it sends one, else base_delay_s * 2^attempt (capped)."""
        if retry_after_s is not None:
            return min(retry_after_s, MAX_RETRY_AFTER_S)
        return min(self.base_delay_s * 2**attempt, self.max_delay_s)


RETRY = RetryPolicy()


def resolve_api_encoder(
    encoder: str,
    spec: EncoderSpec,
    *,
    model: str | None,
    prompt: str | None,
    normalize: bool | None,
    base_url: str | None,
    dimensions: int | None,
    server_decides: dict[str, object],
) -> EncoderSettings:
    """Settings of an API encoder; `server_decides` are the local-model options the user passed,
    which the server fixes itself and so are refused."""
    for option, value in server_decides.items():
        if value is not None:
            raise SpecrecError(
                f"--{option} does not apply to encoder '{encoder}': the API server decides it; "
                "drop the option"
            )
    if dimensions is not None and dimensions < 1:
        raise SpecrecError(f"--dimensions must be a positive number, got {dimensions}")
    url = base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SpecrecError(
            f"--base-url '{url}' is not an http(s) URL; pass e.g. http://localhost:8000/v1"
        )
    return EncoderSettings(
        encoder=encoder,
        backend="openai",
        model=model or str(spec.model),
        model_dir=None,
        revision="",
        model_signature="",
        pooling="",
        padding_side="",
        max_length=0,
        prompt=prompt if prompt is not None else (spec.prompt or ""),
        normalize=bool(normalize if normalize is not None else spec.normalize),
        base_url=url,
        api_host=parts.hostname + (f":{parts.port}" if parts.port else ""),
        dimensions=dimensions,
    )


def request_text(settings: EncoderSettings, text: str) -> str:
    """What is sent for one item: prompt + text, or one space (the API refuses empty inputs)."""
    return (settings.prompt + text) or " "


def token_bound(text: str) -> int:
    """At most this many tokens: each token of OpenAI's byte-level BPE covers >= 1 UTF-8 byte."""
    return max(1, len(text.encode("utf-8")))


def request_batches(
    settings: EncoderSettings,
    texts: list[str],
    items: np.ndarray,
    max_inputs: int,
    max_tokens: int = MAX_TOKENS_PER_REQUEST,
) -> list[np.ndarray]:
    """Consecutive runs of `items` (1-based indices into `texts`), one per request: at most
    min(max_inputs, 2048) inputs and `max_tokens` tokens (by `token_bound`) each; a text over
    `max_tokens` alone goes in a request of its own."""
    max_inputs = min(max_inputs, MAX_INPUTS_PER_REQUEST)
    bounds = [token_bound(request_text(settings, texts[i - 1])) for i in items]
    runs, start, tokens = [], 0, 0
    for position, bound in enumerate(bounds):
        if position > start and (position - start == max_inputs or tokens + bound > max_tokens):
            runs.append(items[start:position])
            start, tokens = position, 0
        tokens += bound
    if start < len(bounds):
        runs.append(items[start:])
    return runs


def cost_summary(settings: EncoderSettings, texts: list[str]) -> str:
    """One line: how many texts and (at most) tokens will be sent, and what that costs at most
    (rounded up to the cent)."""
    bound = sum(token_bound(request_text(settings, text)) for text in texts)
    price = PRICE_USD_PER_MILLION_TOKENS.get(settings.model)
    cost = (
        f"at most ${math.ceil(bound * price / 1e4) / 100:.2f} at ${price} per 1M tokens"
        if price is not None
        else f"no price known for '{settings.model}' (a local server costs nothing)"
    )
    return (
        f"{settings.model} at {settings.api_host}: {len(texts)} texts, at most {bound:,} tokens "
        f"(counted as UTF-8 bytes; English runs about 4 bytes per token), {cost}"
    )


def retry_after_s(headers: Mapping[str, str]) -> float | None:
    """The wait a 429/5xx response asks for: retry-after-ms, else Retry-After (seconds or date)."""
    milliseconds = headers.get("retry-after-ms")
    if milliseconds:
        try:
            return max(0.0, float(milliseconds) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000": a date in UTC
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


class OpenAIEncoder:
    """One embeddings request per batch through the official `openai` client (its own retries
    off: `RETRY` retries 408/409/429/5xx and lost connections, honouring Retry-After)."""

    def __init__(self, settings: EncoderSettings) -> None:
        key = os.environ.get("OPENAI_API_KEY", "").strip()
        if not key:
            raise SpecrecError(
                f"encoder '{settings.encoder}' needs an API key in OPENAI_API_KEY (for a local "
                "server without authentication any value will do); set it and rerun"
            )
        import openai

        self.openai = openai
        self.client = openai.OpenAI(
            api_key=key, base_url=settings.base_url, max_retries=0, timeout=REQUEST_TIMEOUT_S
        )
        self.settings = settings
        self.dim = settings.dimensions or 0
        self.answered = 0
        check_reachable(settings.base_url)

    def encode(self, texts: list[str]) -> np.ndarray:
        """Float32 vectors `[B, D]` in the order of `texts` (rows are sorted by their index)."""
        response = self._request([request_text(self.settings, text) for text in texts])
        rows = sorted(response.data, key=lambda row: row.index)
        vectors = np.asarray([row.embedding for row in rows], dtype=np.float32)
        found = vectors.shape[-1] if vectors.ndim == 2 else 0
        expected = self.settings.dimensions or self.dim or found
        if vectors.ndim != 2 or vectors.shape != (len(texts), expected):
            raise SpecrecError(
                f"the embeddings API at {self.settings.api_host} returned vectors of shape "
                f"{vectors.shape} for {len(texts)} texts of dimension {expected or '?'}; "
                "check --model and --dimensions"
            )
        self.dim = expected
        if self.settings.normalize:
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-30)
        return vectors

    def _request(self, inputs: list[str]):
        openai, host = self.openai, self.settings.api_host
        options = {"dimensions": self.settings.dimensions} if self.settings.dimensions else {}
        failure = ""
        for attempt in range(RETRY.attempts):
            try:
                response = self.client.embeddings.create(
                    model=self.settings.model, input=inputs, **options
                )
                self.answered += 1
                return response
            except openai.APITimeoutError:
                failure = f"no answer within {REQUEST_TIMEOUT_S:.0f} s"
                wait = RETRY.delay(attempt, None)
            except openai.APIConnectionError as exc:
                failure = _first_line(exc.__cause__ or exc)
                if not self.answered:
                    raise SpecrecError(
                        f"cannot reach the embeddings API at {self.settings.base_url} ({failure}); "
                        "check --base-url and that the server is running"
                    ) from None
                wait = RETRY.delay(attempt, None)
            except openai.APIStatusError as exc:
                failure = f"HTTP {exc.status_code}: {_api_message(exc)}"
                if not _transient(exc):
                    raise SpecrecError(
                        f"the embeddings API at {host} refused the request ({failure}); "
                        f"{_remedy(exc.status_code, self.settings)}"
                    ) from None
                wait = RETRY.delay(attempt, retry_after_s(exc.response.headers))
            if attempt + 1 < RETRY.attempts:
                log(f"embeddings API at {host}: {failure}; retrying in {wait:.3g} s")
                RETRY.sleep(wait)
        raise SpecrecError(
            f"the embeddings API at {host} still fails after {RETRY.attempts} attempts "
            f"({failure}); run the same command again to resume after the last completed batch"
        )


def check_reachable(base_url: str) -> None:
    """Refuse in one line a server that takes no TCP connection (wrong host or port, server down)
    before anything is sent; behind a proxy (HTTP(S)_PROXY), the first request tells instead."""
    parts = urlsplit(base_url)
    if parts.scheme in getproxies() or "all" in getproxies():
        return
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise SpecrecError(
            f"cannot reach the embeddings API at {base_url} ({_first_line(exc)}); "
            "check --base-url and that the server is running"
        ) from None


def _transient(exc) -> bool:
    body = exc.body if isinstance(exc.body, dict) else {}
    if exc.status_code == 429 and body.get("code") == "insufficient_quota":
        return False
    return exc.status_code in TRANSIENT_STATUSES or exc.status_code >= 500


def _api_message(exc) -> str:
    body = exc.body if isinstance(exc.body, dict) else {}
    return _first_line(body.get("message") or exc.message)


def _first_line(value: object, limit: int = 200) -> str:
    lines = str(value).strip().splitlines()
    line = lines[0] if lines else type(value).__name__
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _remedy(status: int, settings: EncoderSettings) -> str:
    return {
        401: "set OPENAI_API_KEY to a valid key",
        403: "check that the key may use this model",
        404: f"check --model ('{settings.model}') and --base-url",
        429: "add credit to the account (the quota is used up)",
    }.get(status, "check --model, --dimensions and the item texts (at most 8192 tokens each)")
