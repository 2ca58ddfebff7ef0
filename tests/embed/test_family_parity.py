"""Each architecture family specrec loads, as a tiny random model, meets the parity contract."""

from __future__ import annotations

from encoder_parity_contract import EncoderParityContract
from tiny_encoder_folders import (
    as_sentence_transformer,
    bert,
    gemma,
    llama,
    mamba,
    qwen,
    roberta_style,
)


class TestBertMean(EncoderParityContract):
    """all-MiniLM-L6-v2 and E5: a BERT sentence-transformers folder with mean pooling."""

    pooling, sentence_transformers = "mean", True

    @staticmethod
    def build(root, texts, minilm_dir):
        return as_sentence_transformer(bert(root, minilm_dir), root / "st", "mean")


class TestBertMeanLeftPaddingTokenizer(EncoderParityContract):
    """A BERT sentence-transformers folder whose tokenizer pads on the left: its own pipeline,
    which passes no position ids, must still number every text as if it were alone."""

    pooling, sentence_transformers = "mean", True

    @staticmethod
    def build(root, texts, minilm_dir):
        model = bert(root, minilm_dir, padding_side="left")
        return as_sentence_transformer(model, root / "st", "mean")


class TestBertCls(EncoderParityContract):
    """BGE: a BERT sentence-transformers folder pooling the [CLS] token."""

    pooling, sentence_transformers, pooled_token = "cls", True, "[CLS]"

    @staticmethod
    def build(root, texts, minilm_dir):
        return as_sentence_transformer(bert(root, minilm_dir), root / "st", "cls")


class TestMPNetMean(EncoderParityContract):
    """all-mpnet-base-v2, the reported bug: positions start at padding_idx + 1 = 2, not 0."""

    pooling, sentence_transformers = "mean", True

    @staticmethod
    def build(root, texts, minilm_dir):
        return as_sentence_transformer(roberta_style(root, texts, "mpnet"), root / "st", "mean")


class TestRobertaCls(EncoderParityContract):
    pooling, pooled_token = "cls", "<s>"

    @staticmethod
    def build(root, texts, minilm_dir):
        return roberta_style(root, texts, "roberta")


class TestXLMRobertaMean(EncoderParityContract):
    """multilingual-e5: an XLM-R sentence-transformers folder with mean pooling."""

    pooling, sentence_transformers = "mean", True

    @staticmethod
    def build(root, texts, minilm_dir):
        model = roberta_style(root, texts, "xlm-roberta")
        return as_sentence_transformer(model, root / "st", "mean")


class TestQwen2LastToken(EncoderParityContract):
    """gte-Qwen2: last-token pooling over the appended <|endoftext|>."""

    pooling, pooled_token = "last_token", "<|endoftext|>"

    @staticmethod
    def build(root, texts, minilm_dir):
        return qwen(root, texts, "qwen2")


class TestQwen3LastToken(EncoderParityContract):
    """Qwen3-Embedding: a left-padding sentence-transformers folder; the tokenizer appends
    <|endoftext|>, which is also its pad token."""

    pooling, sentence_transformers, pooled_token = "last_token", True, "<|endoftext|>"

    @staticmethod
    def build(root, texts, minilm_dir):
        model = qwen(root, texts, "qwen3", padding_side="left")
        return as_sentence_transformer(model, root / "st", "lasttoken")


class TestLlamaLastToken(EncoderParityContract):
    pooling, pooled_token = "last_token", "</s>"

    @staticmethod
    def build(root, texts, minilm_dir):
        return llama(root, texts, "llama")


class TestMistralLastToken(EncoderParityContract):
    """e5-mistral: </s> appended; an 8-token sliding window, shorter than most texts."""

    pooling, pooled_token = "last_token", "</s>"

    @staticmethod
    def build(root, texts, minilm_dir):
        return llama(root, texts, "mistral", sliding_window=8)


class TestGemma2LastToken(EncoderParityContract):
    """bge-multilingual-gemma2: attention soft-capping, one sliding-window layer of 8 tokens."""

    pooling, pooled_token = "last_token", "<eos>"

    @staticmethod
    def build(root, texts, minilm_dir):
        return gemma(root, texts, "gemma2", sliding_window=8, attn_logit_softcapping=50.0)


class TestGemma3LastToken(EncoderParityContract):
    """Gemma3 text as a causal decoder (its transformers default), alternating window and full."""

    pooling, pooled_token = "last_token", "<eos>"

    @staticmethod
    def build(root, texts, minilm_dir):
        return gemma(
            root, texts, "gemma3_text", sliding_window=8,
            layer_types=["sliding_attention", "full_attention"],
        )  # fmt: skip


class TestGemma3BidirectionalMean(EncoderParityContract):
    """EmbeddingGemma: Gemma3 text with bidirectional attention, mean pooling."""

    pooling = "mean"

    @staticmethod
    def build(root, texts, minilm_dir):
        return gemma(
            root, texts, "gemma3_text", sliding_window=8, use_bidirectional_attention=True,
            layer_types=["sliding_attention", "full_attention"],
        )  # fmt: skip


class TestMambaRightPaddingOnly(EncoderParityContract):
    """No position ids to pass: left padding would feed the pads into its state first."""

    pooling, pooled_token = "last_token", "<|endoftext|>"
    padding_sides, refused_sides = ("right",), ("left",)

    @staticmethod
    def build(root, texts, minilm_dir):
        return mamba(root, texts)
