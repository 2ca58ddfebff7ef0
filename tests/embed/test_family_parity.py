"""Each architecture family specrec loads, as a tiny random model, meets the parity contract."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from encoder_parity_contract import EncoderParityContract
from tiny_encoder_folders import (
    as_sentence_transformer,
    bert,
    f2llm,
    gemma,
    llama,
    llama_base,
    mamba,
    qwen,
    roberta_style,
)

from specrec.embed.embed import embed
from specrec.embed.encoders.resolve import load_encoder, resolve_encoder
from specrec.embed.store import open_embeddings


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


class AliasParityContract(EncoderParityContract):
    """The contract through an alias: `specrec embed --encoder ALIAS --model DIR` with only
    `--padding-side` passed, so the pooling and the rest come from the alias (`card`, the model
    card's settings); a sentence-transformers folder's own pipeline runs through `hf`."""

    alias: str
    card: dict

    @pytest.fixture(scope="class")
    @classmethod
    def embedded(cls, root: Path, folder: Path, dataset: Path):
        runs: dict[tuple, tuple[np.ndarray, object]] = {}

        def run(route: tuple[str, str | None], batch_size: int):
            backend, side = route
            if (route, batch_size) not in runs:
                out = root / f"{cls.alias}-{backend}-{side}-{batch_size}"
                via = {"encoder": cls.alias, "padding_side": side} if side else {"encoder": "hf"}
                meta = embed(dataset=dataset, out=out, model=str(folder), batch_size=batch_size,
                             device="cpu", **via)  # fmt: skip
                runs[route, batch_size] = (open_embeddings(out).load()[1:], meta)
            return runs[route, batch_size]

        return run

    def test_alias_resolves_to_the_card_settings(self, folder):
        settings = resolve_encoder(self.alias, model=str(folder))
        resolved = {name: getattr(settings, name) for name in self.card}
        assert resolved == self.card
        assert settings.backend == "transformers" and settings.pooling == self.pooling


class TestF2LLMAlias(AliasParityContract):
    """f2llm-4b: a Qwen3 sentence-transformers folder pooling the <|im_end|> (its EOS) that its
    tokenizer appends; the alias appends it itself (see test_append_eos.py for the card's
    tokenizer that does not)."""

    alias, pooling, pooled_token = "f2llm-4b", "last_token", "<|im_end|>"
    sentence_transformers = True
    card = dict(padding_side="left", max_length=1024, prompt="", normalize=True, append_eos=True)

    @staticmethod
    def build(root, texts, minilm_dir):
        return as_sentence_transformer(f2llm(root, texts), root / "st", "lasttoken")


class TestKaLMGemma3Alias(AliasParityContract):
    """kalm-gemma3-12b: a Gemma3 text sentence-transformers folder with last-token pooling."""

    alias, pooling, pooled_token = "kalm-gemma3-12b", "last_token", "<eos>"
    sentence_transformers = True
    card = dict(padding_side="left", max_length=512, prompt="", normalize=True, append_eos=False)

    @staticmethod
    def build(root, texts, minilm_dir):
        model = gemma(
            root, texts, "gemma3_text", sliding_window=8,
            layer_types=["sliding_attention", "full_attention"],
        )  # fmt: skip
        return as_sentence_transformer(model, root / "st", "lasttoken")


class TestBertBaseAlias(AliasParityContract):
    """bert-base (UniSRec's BERT-base CLS): a plain BERT folder, uncased WordPiece, no norm."""

    alias, pooling, pooled_token = "bert-base", "cls", "[CLS]"
    card = dict(padding_side="right", max_length=512, prompt="", normalize=False, append_eos=False)

    @staticmethod
    def build(root, texts, minilm_dir):
        return bert(root, minilm_dir)


class LLMEmbAliasParityContract(AliasParityContract):
    """LLMEmb's rule through an alias: the reference is the plain model called on each text's own
    tokens with no special token, then the tokenizer's EOS, mean-pooled over all of them."""

    pooling = "mean"
    card = dict(padding_side="right", max_length=1024, prompt="", normalize=False, append_eos=True)

    @pytest.fixture(scope="class")
    @classmethod
    def references(cls, folder: Path, texts: list[str]) -> dict[str, np.ndarray]:
        import torch
        from transformers import AutoModel, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(folder)
        model = AutoModel.from_pretrained(folder).eval()
        vectors = []
        with torch.inference_mode():
            for text in texts:
                ids = tokenizer(text, add_special_tokens=False)["input_ids"] + [
                    tokenizer.eos_token_id
                ]
                hidden = model(input_ids=torch.tensor([ids])).last_hidden_state[0]
                vectors.append(hidden.mean(dim=0))
        return {"plain": torch.stack(vectors).numpy()}

    def test_feeds_the_text_tokens_then_the_eos_and_no_bos(self, folder, texts, padding_side):
        settings = resolve_encoder(self.alias, model=str(folder), padding_side=padding_side)
        encoder = load_encoder(settings, device="cpu", compute_dtype="float32")
        batch = encoder.tokenize(texts)
        tokenizer = encoder.tokenizer
        bos, eos = tokenizer.bos_token, tokenizer.eos_token
        for row, text in enumerate(texts):
            real = batch["input_ids"][row][batch["attention_mask"][row].bool()].tolist()
            assert tokenizer.convert_ids_to_tokens(real) == [*text.split(), eos]
            assert tokenizer(text).tokens() == [bos, *text.split()]  # what the tokenizer adds


class TestLlama7bAlias(LLMEmbAliasParityContract):
    """llama-7b (LLMEmb's LLM): a base LLaMA whose tokenizer adds <s> and no </s>."""

    alias = "llama-7b"

    @staticmethod
    def build(root, texts, minilm_dir):
        return llama_base(root, texts)


class TestLlama3_8bAlias(LLMEmbAliasParityContract):
    """llama3-8b (SpecTran's LLM) under LLMEmb's rule: <|begin_of_text|> dropped, <|end_of_text|>
    appended."""

    alias = "llama3-8b"

    @staticmethod
    def build(root, texts, minilm_dir):
        return llama_base(root, texts, generation=3)
