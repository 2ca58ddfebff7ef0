"""The ENCODERS registry: encoder aliases and their documented defaults, one line each.

Every local alias resolves to the `transformers` or `sentence-transformers` backend (see
`resolve.py`) and also accepts a local folder via `--model DIR`; `openai` calls an embeddings API
(`openai_api.py`), where `--model` names the API's model. The user's options override the defaults.
Each paper alias follows its model card for documents (items), not queries: see docs/encoders.md.
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
LAST_TOKEN = dict(pooling="last_token", padding_side="left", prompt="", normalize=True)
ENCODERS.register("f2llm-4b")(
    EncoderSpec("codefuse-ai/F2LLM-4B", **LAST_TOKEN, max_length=1024, append_eos=True)
)
ENCODERS.register("kalm-gemma3-12b")(
    EncoderSpec("tencent/KaLM-Embedding-Gemma3-12B-2511", **LAST_TOKEN, max_length=512)
)
ENCODERS.register("bert-base")(
    EncoderSpec("bert-base-uncased", pooling="cls", padding_side="right", max_length=512,
                prompt="", normalize=False)  # fmt: skip
)
# LLMEmb's rule: mean over the text's tokens and an appended EOS, no BOS, right padding, no norm
LLMEMB = dict(pooling="mean", padding_side="right", max_length=1024, prompt="", normalize=False,
              append_eos=True)
ENCODERS.register("llama-7b")(EncoderSpec("huggyllama/llama-7b", **LLMEMB))
ENCODERS.register("llama3-8b")(EncoderSpec("meta-llama/Meta-Llama-3-8B", **LLMEMB))
ENCODERS.register("openai")(
    EncoderSpec("text-embedding-3-large", normalize=False, backend="openai")
)

__all__ = ["ENCODERS", "EncoderSpec"]
