"""`specrec finetune`: item texts of a dataset + a local model -> a LoRA adapter artifact (SCFT)."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Callable

from specrec import devices
from specrec.artifacts import Meta, claim_output, input_ref
from specrec.console import log as default_log
from specrec.embed.embed import read_items
from specrec.embed.encoders import ENCODERS
from specrec.embed.encoders.base import EncoderSettings
from specrec.embed.encoders.locate import quiet_offline_transformers
from specrec.embed.encoders.resolve import resolve_encoder
from specrec.embed.partial import partial_root
from specrec.errors import SpecrecError
from specrec.finetune.lora import add_lora, model_skeleton, resolve_lora
from specrec.finetune.loop import LoopSettings, train_adapter
from specrec.finetune.loss import TAU_INIT
from specrec.finetune.pairs import PairBatches
from specrec.finetune.store import KIND, write_finetune

WEIGHT_DECAY = 0.0  # the Hugging Face Trainer's default, which LLMEmb's script keeps
FIRST_LAST = 5  # steps averaged for the stats' first and last loss


def finetune(
    *,
    dataset: Path,
    out: Path,
    model: str | None = None,
    encoder: str = "hf",
    steps: int = 4000,
    batch_size: int = 64,
    lr: float = 2e-4,
    seed: int = 0,
    max_length: int | None = None,
    append_eos: bool | None = None,
    drop_ratio: float = 0.4,
    lora_r: int = 8,
    lora_alpha: float = 32.0,
    lora_dropout: float = 0.1,
    target_modules: list[str] | None = None,
    device: str = "auto",
    save_every: int = 100,
    force: bool = False,
    log: Callable[[str], None] = default_log,
    on_step: Callable[[dict], None] | None = None,
) -> Meta:
    """Fine-tune `model` on the item texts of `dataset` with LLMEmb's SCFT into the artifact `out`.

    Skips work when `out` already holds the same fingerprint (unless `force`); a rerun after a
    kill continues from the last checkpoint (every `save_every` steps) to the same adapter.
    `on_step(row)` is called after every step (row: step, loss, tau).
    """
    dataset, out = Path(dataset), Path(out)
    _check_numbers(steps=steps, batch_size=batch_size, lr=lr, seed=seed, drop_ratio=drop_ratio,
                   save_every=save_every)
    devices.check_device_name(device)
    if devices.ranks().distributed:
        raise SpecrecError("finetune runs in one process; launch it without torchrun")
    data_meta, _, texts = read_items(dataset)
    trainable = [text for text in texts if text.strip()]
    if len(trainable) < 2:
        raise SpecrecError(f"dataset '{dataset}' has {len(trainable)} item text(s); contrastive "
                           "fine-tuning needs at least 2 (the other items are the negatives)")
    settings = _encoder_settings(encoder, model, max_length, append_eos)
    device_t = devices.resolve_device(device)
    compute_dtype = _compute_dtype(device_t)
    skeleton = model_skeleton(settings.model_dir, settings.model)
    checkpointing = device_t.type == "cuda" and skeleton.supports_gradient_checkpointing
    lora = resolve_lora(skeleton, settings.model, r=lora_r, alpha=lora_alpha,
                        dropout=lora_dropout, target_modules=target_modules)
    add_lora(skeleton, lora, settings.model)  # peft takes every target (before anything is written)
    batches = PairBatches(trainable, batch_size, seed, drop_ratio)
    config = {
        **settings.record(),
        "append_eos": settings.append_eos,
        "text_template": _text_template(data_meta),
        "lora": lora.record(),
        "loss": "soft_contrastive",
        "tau_init": TAU_INIT,
        "drop_ratio": drop_ratio,
        "steps": steps,
        "batch_size": batch_size,
        "optimizer": "adamw",
        "lr": lr,
        "weight_decay": WEIGHT_DECAY,
        "seed": seed,
        "device": device_t.type,
        "compute_dtype": compute_dtype,
        "gradient_checkpointing": bool(checkpointing),
    }
    inputs = {"dataset": input_ref(dataset, data_meta)}
    with claim_output(out, kind=KIND, config=config, inputs=inputs, force=force,
                      protect=[settings.model_dir], log=log) as claim:
        if claim.existing is not None:
            return claim.existing
        work = partial_root(claim.out)
        loop = LoopSettings(steps, lr, WEIGHT_DECAY, seed, device_t, compute_dtype,
                            config["gradient_checkpointing"], save_every)
        log(f"fine-tuning {settings.model} on {len(trainable)} item texts: {steps} steps of "
            f"{batches.batch_size} pairs, LoRA r={lora.r} on {', '.join(lora.target_modules)}")
        trained = train_adapter(settings, lora, batches, loop, work=work,
                                fingerprint=claim.fingerprint, log=log, on_step=on_step)
        losses = [row["loss"] for row in trained.history]

        def build(tmp: Path) -> dict:
            write_finetune(tmp, adapter=trained.adapter, lora_config=trained.peft_config,
                           history=trained.history)
            return {
                "items": len(trainable),
                "pairs_per_step": batches.batch_size,
                "steps": len(losses),
                "loss_first": sum(losses[:FIRST_LAST]) / len(losses[:FIRST_LAST]),
                "loss_last": sum(losses[-FIRST_LAST:]) / len(losses[-FIRST_LAST:]),
                "tau": trained.tau,
                "trainable_parameters": trained.trainable_parameters,
                "resumed_from_step": trained.resumed_from,
                "seconds": round(trained.seconds, 3),
                "save_every": save_every,
            }

        meta = claim.write(build, data_meta.items_fingerprint)
        shutil.rmtree(work, ignore_errors=True)
    return meta


def _check_numbers(*, steps: int, batch_size: int, lr: float, seed: int, drop_ratio: float,
                   save_every: int) -> None:
    if steps < 1:
        raise SpecrecError(f"--steps must be at least 1, got {steps}")
    if batch_size < 2:
        raise SpecrecError(f"--batch-size must be at least 2 (in-batch negatives), got "
                           f"{batch_size}")
    if not lr > 0:
        raise SpecrecError(f"--lr must be positive, got {lr}")
    if seed < 0:
        raise SpecrecError(f"--seed must be 0 or more, got {seed}")
    if not 0 <= drop_ratio < 1:
        raise SpecrecError(f"--drop-ratio must be in [0, 1), got {drop_ratio}")
    if save_every < 1:
        raise SpecrecError(f"--save-every must be at least 1 step, got {save_every}")


def _encoder_settings(encoder: str, model: str | None, max_length: int | None,
                      append_eos: bool | None) -> EncoderSettings:
    """LLMEmb's tokenisation: mean pooling over the real tokens, right padding, no prompt, no
    normalising; EOS appended without BOS unless the tokenizer has a CLS token (an encoder)."""
    settings = resolve_encoder(encoder, model=model, pooling="mean", padding_side="right",
                               max_length=max_length, prompt="", normalize=False,
                               append_eos=append_eos)
    if settings.backend != "transformers" or settings.model_dir is None:
        raise SpecrecError(f"encoder '{encoder}' is not a local model; finetune needs a model "
                           "folder (--model DIR)")
    if append_eos is None and ENCODERS.get(encoder).append_eos is None:
        settings = replace(settings, append_eos=_decoder_tokenizer(settings))
    if settings.append_eos and settings.max_length < 2:
        raise SpecrecError("appending the EOS needs --max-length of at least 2 (a token and "
                           "the EOS)")
    return settings


def _decoder_tokenizer(settings: EncoderSettings) -> bool:
    """True for a tokenizer with an EOS token and no CLS token (a decoder's: LLaMA, Qwen, ...);
    an encoder's ([CLS] … [SEP], <s> … </s>) keeps its own special tokens."""
    quiet_offline_transformers()
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(settings.model_dir, local_files_only=True)
    except (OSError, ValueError, KeyError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SpecrecError(f"cannot load the tokenizer of model '{settings.model}' ({message}); "
                           "pass a complete local model folder") from None
    return tokenizer.eos_token is not None and tokenizer.cls_token is None


def _compute_dtype(device) -> str:
    """bf16 autocast on a CUDA GPU that has it; float32 elsewhere (no fp16 without loss scaling)."""
    if device.type != "cuda":
        return "float32"
    import torch

    return "bfloat16" if torch.cuda.is_bf16_supported() else "float32"


def _text_template(data_meta: Meta) -> str:
    template = data_meta.config.get("text_template", "")
    return template if isinstance(template, str) else json.dumps(template, sort_keys=True)
