"""Tiny random models of each architecture family, saved with a tokenizer (nothing downloaded)."""

from __future__ import annotations

import json
import random
from pathlib import Path

WORDS = (
    "toy story golden eye four rooms get shorty copycat heat sabrina tom huck sudden death "
    "balto casino dracula dead nixon cutthroat island money train assassins powder "
    "animation children comedy action adventure thriller drama crime romance horror "
    "a the of and in with man woman city night love war last first 1995 1996 ( ) | , ."
).split()


def parity_texts(count: int = 50, seed: int = 0) -> list[str]:
    """`count` texts from 0 to 60 words (the empty text included), in a fixed random order."""
    rng = random.Random(seed)
    lengths = [0, 1, 2, 3, 60] + [rng.choice([4, 6, 9, 14, 20, 28, 40]) for _ in range(count - 5)]
    rng.shuffle(lengths)
    return [" ".join(rng.choice(WORDS) for _ in range(n)) for n in lengths]


def word_tokenizer(texts: list[str], *, specials: list[str], template: str, roles: dict[str, str]):
    """A word-level fast tokenizer over `texts`: special tokens take ids 0.. in `specials` order,
    `template` (e.g. "<s> $A </s>") adds them around every text, `roles` names bos/eos/pad/..."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    splitter = pre_tokenizers.Whitespace()
    words = sorted({w for text in texts for w, _ in splitter.pre_tokenize_str(text)})
    vocab = {token: i for i, token in enumerate(specials + words)}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token=roles["unk_token"]))
    backend.pre_tokenizer = splitter
    used = [token for token in specials if token in template.split()]
    backend.post_processor = processors.TemplateProcessing(
        single=template, special_tokens=[(token, vocab[token]) for token in used]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        model_input_names=["input_ids", "attention_mask"],
        **roles,
    )


def save_random_model(directory: Path, config, tokenizer, seed: int = 0) -> Path:
    """`AutoModel.from_config(config)` with seeded random weights, saved with `tokenizer`. Padding
    rows are random too, as in checkpoints whose pad token is also a real one (Qwen's
    <|endoftext|>, appended to every text, is its pad token)."""
    import torch
    from transformers import AutoModel

    torch.manual_seed(seed)
    model = AutoModel.from_config(config)
    with torch.no_grad():
        for table in model.modules():
            if isinstance(table, torch.nn.Embedding) and table.padding_idx is not None:
                table.weight[table.padding_idx].normal_(std=float(table.weight.std()))
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def as_sentence_transformer(model_dir: Path, directory: Path, pooling_mode: str) -> Path:
    """A sentence-transformers folder: Transformer(model_dir), Pooling(pooling_mode), Normalize."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer

    transformer = Transformer(str(model_dir))
    pooling = Pooling(transformer.get_embedding_dimension(), pooling_mode=pooling_mode)
    SentenceTransformer(modules=[transformer, pooling, Normalize()], device="cpu").save(
        str(directory)
    )
    return directory


SMALL = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)
ROBERTA_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
ROBERTA_ROLES = dict(
    bos_token="<s>", eos_token="</s>", cls_token="<s>", sep_token="</s>",
    pad_token="<pad>", unk_token="<unk>", mask_token="<mask>",
)  # fmt: skip


def bert(root: Path, bert_tokenizer_dir: Path, padding_side: str = "right"):
    """BERT (MiniLM, BGE and E5 are BERTs), with the real MiniLM WordPiece tokenizer."""
    from transformers import AutoTokenizer, BertConfig

    tokenizer = AutoTokenizer.from_pretrained(bert_tokenizer_dir, padding_side=padding_side)
    config = BertConfig(vocab_size=tokenizer.vocab_size, max_position_embeddings=128, **SMALL)
    return save_random_model(root / "bert", config, tokenizer)


def roberta_style(root: Path, texts: list[str], model_type: str):
    """RoBERTa, XLM-R or MPNet: positions count from padding_idx + 1 (padding_idx = <pad> = 1)."""
    from transformers import AutoConfig

    tokenizer = word_tokenizer(
        texts, specials=ROBERTA_SPECIALS, template="<s> $A </s>", roles=ROBERTA_ROLES
    )
    config = AutoConfig.for_model(
        model_type, vocab_size=len(tokenizer), max_position_embeddings=130,
        pad_token_id=1, bos_token_id=0, eos_token_id=2, **SMALL,
    )  # fmt: skip
    return save_random_model(root / model_type, config, tokenizer)


def decoder(root: Path, model_type: str, tokenizer, *, end_token: str, **config_fields):
    """A decoder with rotary positions (Qwen2/3, LLaMA, Mistral, Gemma2/3), 2 query heads over one
    key/value head; `end_token`, which its tokenizer appends, is the config's eos token."""
    from transformers import AutoConfig

    config = AutoConfig.for_model(
        model_type,
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        max_position_embeddings=256,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.convert_tokens_to_ids(end_token),
        **config_fields,
    )
    return save_random_model(root / model_type, config, tokenizer)


def qwen_tokenizer(texts: list[str], padding_side: str, appended: str | None = "<|endoftext|>"):
    """Qwen2Tokenizer over a byte-level BPE trained on `texts`, appending `appended` to every text
    (Qwen3-Embedding's <|endoftext|>, also the pad token; None: nothing, as Qwen3 base models);
    its eos token is <|im_end|>."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers
    from transformers import Qwen2Tokenizer

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=specials, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )  # fmt: skip
    bpe.train_from_iterator(texts, trainer)
    trained = json.loads(bpe.to_str())["model"]
    tokenizer = Qwen2Tokenizer(
        vocab=trained["vocab"], merges=[tuple(pair) for pair in trained["merges"]],
        eos_token="<|im_end|>", pad_token="<|endoftext|>", padding_side=padding_side,
    )  # fmt: skip
    tokenizer.backend_tokenizer.post_processor = processors.TemplateProcessing(
        single=f"$A {appended}" if appended else "$A",
        special_tokens=[(appended, tokenizer.convert_tokens_to_ids(appended))] if appended else [],
    )
    return tokenizer


def qwen(root: Path, texts: list[str], model_type: str, padding_side: str = "right"):
    """Qwen2 (gte-Qwen2) or Qwen3 (Qwen3-Embedding), whose tokenizer appends <|endoftext|>."""
    tokenizer = qwen_tokenizer(texts, padding_side)
    return decoder(root, model_type, tokenizer, end_token="<|endoftext|>")


def f2llm(root: Path, texts: list[str], eos_appended: bool = True):
    """F2LLM (Qwen3 fine-tuned from Qwen3-4B, eos <|im_end|>), whose card appends the EOS to each
    text by hand; `eos_appended`: the tokenizer appends it itself (the card's later tokenizer)."""
    tokenizer = qwen_tokenizer(texts, "left", appended="<|im_end|>" if eos_appended else None)
    name = "f2llm" if eos_appended else "f2llm-no-eos"
    return decoder(root / name, "qwen3", tokenizer, end_token="<|im_end|>")


def llama(root: Path, texts: list[str], model_type: str, **config_fields):
    """LLaMA or Mistral as embedders (e5-mistral, SFR): <s> text </s>, no pad token."""
    tokenizer = word_tokenizer(
        texts, specials=["<unk>", "<s>", "</s>"], template="<s> $A </s>",
        roles=dict(bos_token="<s>", eos_token="</s>", unk_token="<unk>"),
    )  # fmt: skip
    return decoder(root, model_type, tokenizer, end_token="</s>", **config_fields)


def llama_base(root: Path, texts: list[str], generation: int = 1):
    """A base LLaMA as LLMEmb embeds it (huggyllama/llama-7b; Meta-Llama-3-8B with generation 3):
    its tokenizer adds the BOS only (<s>, <|begin_of_text|>); the EOS is </s> (<|end_of_text|>)."""
    specials = {1: ("<s>", "</s>", "<unk>"),
                3: ("<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>")}
    bos, eos, unk = specials[generation]
    tokenizer = word_tokenizer(
        texts, specials=[unk, bos, eos], template=f"{bos} $A",
        roles=dict(bos_token=bos, eos_token=eos, unk_token=unk),
    )  # fmt: skip
    return decoder(root / f"llama{generation}-base", "llama", tokenizer, end_token=eos)


def gemma(root: Path, texts: list[str], model_type: str, **config_fields):
    """Gemma2 (bge-multilingual-gemma2) or Gemma3 text (EmbeddingGemma): <bos> text <eos>."""
    tokenizer = word_tokenizer(
        texts, specials=["<pad>", "<eos>", "<bos>", "<unk>"], template="<bos> $A <eos>",
        roles=dict(bos_token="<bos>", eos_token="<eos>", pad_token="<pad>", unk_token="<unk>"),
    )  # fmt: skip
    return decoder(
        root, model_type, tokenizer, end_token="<eos>", query_pre_attn_scalar=16, **config_fields
    )


def mamba(root: Path, texts: list[str]):
    """Mamba: a recurrent model whose forward takes no position ids (padding enters its state)."""
    from transformers import MambaConfig

    tokenizer = word_tokenizer(
        texts, specials=["<|endoftext|>", "<|padding|>"], template="$A <|endoftext|>",
        roles=dict(eos_token="<|endoftext|>", pad_token="<|padding|>", unk_token="<|padding|>"),
    )  # fmt: skip
    config = MambaConfig(
        vocab_size=len(tokenizer), hidden_size=32, state_size=4, num_hidden_layers=2,
        pad_token_id=1, bos_token_id=0, eos_token_id=0,
    )  # fmt: skip
    return save_random_model(root / "mamba", config, tokenizer)
