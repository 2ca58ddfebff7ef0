"""`finetune` end to end on tiny models, and `embed --adapter` with what it trained.

The loss falls, the artifact round-trips, runs are seeded and resumable, and the embeddings are
those of the base model with the adapter.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from finetune_samples import attribute_texts, folders, make_dataset

from specrec.embed.embed import embed
from specrec.embed.partial import partial_root
from specrec.embed.store import open_embeddings
from specrec.errors import SpecrecError
from specrec.finetune.finetune import finetune
from specrec.finetune.store import FINETUNE_FILES, read_finetune

TINY = dict(steps=30, batch_size=8, lr=1e-3, device="cpu", log=lambda message: None)


def first_and_last(history: list[dict], count: int = 5) -> tuple[float, float]:
    losses = [row["loss"] for row in history]
    return float(np.mean(losses[:count])), float(np.mean(losses[-count:]))


def same_adapter(a: Path, b: Path) -> bool:
    first, second = read_finetune(a).adapter_weights(), read_finetune(b).adapter_weights()
    return first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)


@pytest.fixture(scope="module")
def tuned(tmp_path_factory, dataset, llama_dir) -> Path:
    """30 steps of SCFT on the tiny LLaMA: 8 items, one batch of 8 pairs per step."""
    out = tmp_path_factory.mktemp("tuned") / "ft"
    finetune(dataset=dataset, out=out, model=str(llama_dir), save_every=10, **TINY)
    return out


def test_the_loss_falls_on_a_tiny_llama(tuned):
    first, last = first_and_last(read_finetune(tuned).history())
    assert last < 0.6 * first, (first, last)


@pytest.mark.filterwarnings("ignore::FutureWarning")  # peft asks transformers
def test_the_artifact_round_trips(tuned, llama_dir):
    from peft import PeftModel, get_peft_model_state_dict
    from transformers import AutoModel

    found = read_finetune(tuned)
    assert sorted(p.name for p in tuned.iterdir()) == sorted([*FINETUNE_FILES, "meta.json"])
    recipe = found.recipe
    assert recipe["lora"] == {"r": 8, "alpha": 32.0, "dropout": 0.1, "exclude_modules": [],
                              "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj",
                                                 "gate_proj", "up_proj", "down_proj"]}
    assert (recipe["pooling"], recipe["append_eos"], recipe["padding_side"]) == ("mean", True,
                                                                               "right")
    assert (recipe["steps"], recipe["lr"], recipe["tau_init"], recipe["drop_ratio"]) == (
        30, 1e-3, 3.0, 0.4)
    assert recipe["model"] == str(llama_dir) and recipe["model_signature"].startswith("sha256:")
    history = found.history()
    assert [row["step"] for row in history] == list(range(1, 31))
    assert history[-1]["tau"] == pytest.approx(found.meta.stats["tau"]) and history[-1]["tau"] != 3
    loaded = PeftModel.from_pretrained(AutoModel.from_pretrained(llama_dir), str(tuned))
    stored, peft_view = found.adapter_weights(), get_peft_model_state_dict(loaded)
    assert stored.keys() == peft_view.keys() and len(stored) == 2 * 7 * 2  # A, B × 7 × 2 layers
    assert all(torch.equal(stored[k], peft_view[k]) for k in stored)
    assert any(float(v.abs().max()) > 0 for k, v in stored.items() if "lora_B" in k)  # trained
    assert not partial_root(tuned).exists()


def test_an_up_to_date_artifact_is_not_retrained(tuned, dataset, llama_dir):
    steps = []
    meta = finetune(dataset=dataset, out=tuned, model=str(llama_dir), on_step=steps.append, **TINY)
    assert steps == [] and meta.fingerprint == read_finetune(tuned).meta.fingerprint


def test_the_same_seed_gives_the_same_adapter_bit_for_bit(tmp_path, tuned, dataset, llama_dir):
    finetune(dataset=dataset, out=tmp_path / "again", model=str(llama_dir), **TINY)
    assert same_adapter(tuned, tmp_path / "again")
    finetune(dataset=dataset, out=tmp_path / "seed1", model=str(llama_dir), seed=1, **TINY)
    assert not same_adapter(tuned, tmp_path / "seed1")


class Kill(Exception):
    """What a test raises from `on_step` to stop a run as a kill would."""


def kill_after(step: int):
    def on_step(row: dict) -> None:
        if row["step"] == step:
            raise Kill

    return on_step


def test_a_killed_run_resumes_to_the_uninterrupted_adapter(tmp_path, tuned, dataset, llama_dir):
    out = tmp_path / "ft"
    with pytest.raises(Kill):
        finetune(dataset=dataset, out=out, model=str(llama_dir), save_every=5,
                 on_step=kill_after(17), **TINY)  # fmt: skip
    assert not out.exists() and not list(tmp_path.glob("ft.tmp-*"))
    assert (partial_root(out) / "checkpoint.pt").is_file()  # saved after step 15
    steps = []
    meta = finetune(dataset=dataset, out=out, model=str(llama_dir), save_every=5,
                    on_step=lambda row: steps.append(row["step"]), **TINY)  # fmt: skip
    assert meta.stats["resumed_from_step"] == 15 and steps == list(range(16, 31))
    assert same_adapter(tuned, out)
    assert read_finetune(out).history() == read_finetune(tuned).history()
    assert not partial_root(out).exists()


def test_a_checkpoint_of_another_recipe_is_not_reused(tmp_path, dataset, llama_dir):
    out = tmp_path / "ft"
    short = {**TINY, "steps": 6}
    with pytest.raises(Kill):
        finetune(dataset=dataset, out=out, model=str(llama_dir), save_every=2,
                 on_step=kill_after(3), **short)  # fmt: skip
    assert (partial_root(out) / "checkpoint.pt").is_file()
    meta = finetune(dataset=dataset, out=out, model=str(llama_dir), **{**short, "lr": 2e-3})
    assert meta.stats["resumed_from_step"] == 0


@pytest.fixture(scope="module")
def adapter_vectors(tmp_path_factory, tuned, dataset) -> np.ndarray:
    out = tmp_path_factory.mktemp("adapter-embed") / "emb"
    meta = embed(dataset=dataset, encoder=None, adapter=tuned, out=out, batch_size=3,
                 device="cpu")  # fmt: skip
    assert meta.config["adapter"] == read_finetune(tuned).meta.fingerprint
    assert meta.inputs["adapter"]["fingerprint"] == meta.config["adapter"]
    assert open_embeddings(out).attrs["adapter"] == meta.config["adapter"]
    return open_embeddings(out).load()[1:]


@pytest.mark.filterwarnings("ignore::FutureWarning")  # peft asks transformers
def test_embed_adapter_equals_a_peft_wrapped_forward(adapter_vectors, tuned, llama_dir, texts):
    """The merged model, batched and padded, against peft's unmerged adapter called text by text
    on LLMEmb's tokens (the text's, then </s>; no <s>), mean-pooled. Merging W + (α/r)BA
    reorders float32 sums over ≤ 64 terms per layer: |error| ≲ 2·64·2⁻²⁴·|v| per layer."""
    from peft import PeftModel
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(llama_dir)
    model = PeftModel.from_pretrained(AutoModel.from_pretrained(llama_dir), str(tuned)).eval()
    rows = []
    with torch.inference_mode():
        for text in texts:
            ids = tokenizer(text, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
            rows.append(model(input_ids=torch.tensor([ids])).last_hidden_state[0].mean(dim=0))
    reference = torch.stack(rows).numpy()
    scale = float(np.abs(reference).max())
    np.testing.assert_allclose(adapter_vectors, reference, rtol=0, atol=1e-4 * scale)


def test_embed_adapter_differs_from_the_base_model(tmp_path, adapter_vectors, dataset, llama_dir):
    embed(dataset=dataset, encoder="llama-7b", model=str(llama_dir), out=tmp_path / "base",
          device="cpu")  # fmt: skip
    base = open_embeddings(tmp_path / "base").load()[1:]
    change = np.linalg.norm(adapter_vectors - base, axis=1) / np.linalg.norm(base, axis=1)
    assert change.min() > 1e-2, change


def test_another_adapter_makes_the_embeddings_stale(tmp_path, tuned, dataset, llama_dir):
    other = tmp_path / "ft-seed1"
    finetune(dataset=dataset, out=other, model=str(llama_dir), seed=1, **TINY)
    first = embed(dataset=dataset, encoder=None, adapter=tuned, out=tmp_path / "e", device="cpu")
    vectors = open_embeddings(tmp_path / "e").load()
    second = embed(dataset=dataset, encoder=None, adapter=other, out=tmp_path / "e", device="cpu")
    assert second.fingerprint != first.fingerprint
    assert not np.array_equal(open_embeddings(tmp_path / "e").load(), vectors)  # re-embedded


def test_embed_adapter_refuses_another_base_model_or_tokenisation(tmp_path, tuned, dataset, texts):
    other = folders.llama_base(tmp_path, texts, generation=3)
    cases = [({"model": str(other)}, "is not the base model of adapter"),
             ({"pooling": "last_token"}, "was trained with --pooling 'mean'"),
             ({"append_eos": False}, "was trained with --append-eos True"),
             ({"encoder": "openai"}, "is an API, an adapter needs a local model")]
    for options, message in cases:
        with pytest.raises(SpecrecError, match=message) as info:
            embed(dataset=dataset, adapter=tuned, out=tmp_path / "e", device="cpu",
                  **{"encoder": None, **options})  # fmt: skip
        assert "\n" not in str(info.value) and not (tmp_path / "e").exists()


def test_minilm_keeps_its_own_special_tokens_and_learns(tmp_path):
    """The bundled MiniLM (a BERT: [CLS] text [SEP], mean pooling over both): 4 short items."""
    texts = attribute_texts(4, seed=5)
    data = make_dataset(tmp_path / "dataset", texts)
    meta = finetune(dataset=data, out=tmp_path / "ft", encoder="minilm", **{**TINY, "steps": 20,
                                                                          "batch_size": 4})
    recipe = read_finetune(tmp_path / "ft").recipe
    assert recipe["append_eos"] is False and recipe["lora"]["exclude_modules"] == ["pooler.dense"]
    first, last = first_and_last(read_finetune(tmp_path / "ft").history(), 3)
    assert last < 0.6 * first, (first, last)
    assert meta.stats["trainable_parameters"] == 6 * (3 * 2 * 8 * 384 + 8 * (384 + 384) +
                                                     8 * (384 + 1536) + 8 * (1536 + 384))
    # the alias finds its bundled base model again; the encoder's own tokens and mean pooling
    embedded = embed(dataset=data, encoder=None, adapter=tmp_path / "ft", out=tmp_path / "e",
                     device="cpu")  # fmt: skip
    assert (embedded.config["encoder"], embedded.config["normalize"]) == ("minilm", False)
    embed(dataset=data, encoder="minilm", pooling="mean", normalize=False, out=tmp_path / "base",
          device="cpu")  # fmt: skip
    tuned, base = (open_embeddings(tmp_path / name).load()[1:] for name in ("e", "base"))
    change = np.linalg.norm(tuned - base, axis=1) / np.linalg.norm(base, axis=1)
    assert change.min() > 1e-2, change


def test_gradient_checkpointing_trains_the_same_adapter(tmp_path, llama_dir, texts, monkeypatch):
    """The CUDA path recomputes each block's activations in the backward pass (dropout replays
    its saved RNG state); run here on the CPU it must train the very same adapter."""
    from transformers.models.llama import modeling_llama

    from specrec.embed.encoders.resolve import resolve_encoder
    from specrec.finetune.lora import model_skeleton, resolve_lora
    from specrec.finetune.loop import LoopSettings, train_adapter
    from specrec.finetune.pairs import PairBatches

    settings = resolve_encoder("llama-7b", model=str(llama_dir))
    lora = resolve_lora(model_skeleton(llama_dir, "llama"), "llama", r=8, alpha=32, dropout=0.1)
    mlp_calls = []
    forward = modeling_llama.LlamaMLP.forward

    def counted(self, x):
        mlp_calls[-1] += 1
        return forward(self, x)

    monkeypatch.setattr(modeling_llama.LlamaMLP, "forward", counted)  # inside the checkpoint
    adapters = []
    for checkpointing in (False, True):
        mlp_calls.append(0)
        loop = LoopSettings(steps=5, lr=1e-3, weight_decay=0.0, seed=0, device=torch.device("cpu"),
                            compute_dtype="float32", gradient_checkpointing=checkpointing,
                            save_every=100)  # fmt: skip
        trained = train_adapter(settings, lora, PairBatches(texts, 8, 0, 0.4), loop,
                                work=tmp_path / str(checkpointing), fingerprint="test",
                                log=lambda message: None)  # fmt: skip
        adapters.append(trained.adapter)
    plain, recomputed = adapters
    assert mlp_calls == [5 * 2, 5 * 2 * 2]  # 5 steps × 2 blocks, each block redone
    assert plain.keys() == recomputed.keys()
    assert all(torch.equal(plain[k], recomputed[k]) for k in plain)
