"""The ENCODERS registry: encoder aliases and their documented defaults, one line each.

Every alias resolves to the `transformers` or `sentence-transformers` backend (see `resolve.py`);
any alias also accepts a local folder via `--model DIR`; the user's options override its defaults.
"""

from specrec.embed.encoders import bundled
from specrec.embed.encoders.base import EncoderSpec
from specrec.registry import Registry

ENCODERS: Registry[EncoderSpec] = Registry("encoder")

QWEN3 = dict(pooling="last_token", padding_side="left", max_length=8192, prompt="", normalize=True)
BGE = dict(pooling="cls", padding_side="right", max_length=512, prompt="", normalize=True)
E5 = dict(pooling="mean", padding_side="right", max_length=512, prompt="passage: ", normalize=True)

ENCODERS.register("minilm")(
    EncoderSpec("sentence-transformers/all-MiniLM-L6-v2", locate=bundled.minilm)
)
ENCODERS.register("hf")(EncoderSpec())
ENCODERS.register("qwen3-8b")(EncoderSpec("Qwen/Qwen3-Embedding-8B", **QWEN3))
ENCODERS.register("qwen3-4b")(EncoderSpec("Qwen/Qwen3-Embedding-4B", **QWEN3))
ENCODERS.register("qwen3-0.6b")(EncoderSpec("Qwen/Qwen3-Embedding-0.6B", **QWEN3))
ENCODERS.register("bge-base")(EncoderSpec("BAAI/bge-base-en-v1.5", **BGE))
ENCODERS.register("bge-large")(EncoderSpec("BAAI/bge-large-en-v1.5", **BGE))
ENCODERS.register("e5-base")(EncoderSpec("intfloat/e5-base-v2", **E5))
ENCODERS.register("e5-large")(EncoderSpec("intfloat/e5-large-v2", **E5))

__all__ = ["ENCODERS", "EncoderSpec"]
