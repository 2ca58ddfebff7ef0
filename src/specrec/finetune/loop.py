"""The SCFT loop: LoRA on the encoder, AdamW on the adapter and τ, one pair batch per step."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from specrec.console import progress
from specrec.embed.encoders.base import EncoderSettings
from specrec.errors import SpecrecError
from specrec.finetune.checkpoint import FinetuneState, load_state, save_state
from specrec.finetune.lora import LoraRecipe, add_lora
from specrec.finetune.loss import SCFTLoss
from specrec.finetune.pairs import PairBatches


@dataclass(frozen=True)
class LoopSettings:
    steps: int
    lr: float
    weight_decay: float
    seed: int
    device: torch.device
    compute_dtype: str
    gradient_checkpointing: bool
    save_every: int


@dataclass
class Trained:
    """What the artifact keeps: peft's adapter state dict and config, the losses, the final τ."""

    adapter: dict[str, torch.Tensor]
    peft_config: object
    history: list[dict]
    tau: float
    resumed_from: int
    trainable_parameters: int
    seconds: float


def train_adapter(
    settings: EncoderSettings,
    lora: LoraRecipe,
    batches: PairBatches,
    loop: LoopSettings,
    *,
    work: Path,
    fingerprint: str,
    log: Callable[[str], None],
    on_step: Callable[[dict], None] | None = None,
) -> Trained:
    """Fine-tune `settings`' model for `loop.steps` steps, resuming from `work` when it holds a
    checkpoint of this `fingerprint`, saving one every `loop.save_every` steps."""
    from peft import get_peft_model_state_dict

    from specrec.embed.encoders.hf import TransformersEncoder

    encoder = TransformersEncoder(settings, device=str(loop.device),
                                  compute_dtype=loop.compute_dtype)
    base = encoder.model
    if getattr(base.config, "use_cache", None):
        base.config.use_cache = False  # no key/value cache while training
    if loop.gradient_checkpointing:
        _checkpoint_activations(base)
    torch.manual_seed(loop.seed)  # LoRA's A matrices
    model = add_lora(base, lora, settings.model)
    encoder.model = model
    objective = SCFTLoss().to(loop.device)
    adapter = {name: p for name, p in model.named_parameters() if p.requires_grad}
    optimizer = torch.optim.AdamW([*adapter.values(), objective.tau], lr=loop.lr,
                                  weight_decay=loop.weight_decay)
    state = load_state(work, fingerprint)
    if state is None:
        state = FinetuneState(fingerprint=fingerprint)
    else:
        _restore(state, adapter, objective, optimizer, loop.device)
        log(f"resuming after step {state.step} of {loop.steps} from {work}")
    resumed_from = state.step
    model.train()
    started = time.perf_counter()
    with progress() as bar:
        task = bar.add_task("finetune", total=loop.steps, completed=state.step)
        for step in range(state.step, loop.steps):
            first, second = batches.views(step)
            vectors = encoder.pooled(first + second)
            loss = objective(vectors[: len(first)], vectors[len(first) :])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            value = float(loss.detach())
            if not math.isfinite(value):
                raise SpecrecError(f"fine-tuning diverged at step {step + 1} (loss {value}); "
                                   "lower --lr")
            row = {"step": step + 1, "loss": value, "tau": float(objective.tau.detach())}
            state.history.append(row)
            state.step = step + 1
            if state.step % loop.save_every == 0 and state.step < loop.steps:
                _checkpoint(work, state, adapter, objective, optimizer, loop.device)
                log(f"step {state.step}/{loop.steps}  loss {value:.4f}  τ {row['tau']:.4f}")
            bar.update(task, advance=1, description=f"finetune  loss {value:.4f}")
            if on_step is not None:
                on_step(row)
    weights = get_peft_model_state_dict(model)
    return Trained(
        adapter={k: v.detach().to("cpu", torch.float32).contiguous() for k, v in weights.items()},
        peft_config=model.peft_config["default"],
        history=state.history,
        tau=float(objective.tau.detach()),
        resumed_from=resumed_from,
        trainable_parameters=sum(p.numel() for p in adapter.values()),
        seconds=time.perf_counter() - started,
    )


def _checkpoint_activations(model: torch.nn.Module) -> None:
    """Recompute each block's activations in the backward pass (non-reentrant: the frozen
    inputs need no gradient); transformers >= 5 renamed the switch."""
    options = {"use_reentrant": False}
    if hasattr(model, "activation_checkpointing_enable"):
        model.activation_checkpointing_enable(activation_checkpointing_kwargs=options)
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=options)


def _checkpoint(work: Path, state: FinetuneState, adapter: dict, objective: SCFTLoss,
                optimizer: torch.optim.Optimizer, device: torch.device) -> None:
    state.adapter = {name: p.detach().cpu().clone() for name, p in adapter.items()}
    state.tau = objective.tau.detach().cpu().clone()
    state.optimizer = optimizer.state_dict()
    state.rng = torch.get_rng_state()
    state.cuda_rng = torch.cuda.get_rng_state(device) if device.type == "cuda" else None
    save_state(work, state)


def _restore(state: FinetuneState, adapter: dict, objective: SCFTLoss,
             optimizer: torch.optim.Optimizer, device: torch.device) -> None:
    if set(state.adapter) != set(adapter):
        raise SpecrecError("the checkpoint's adapter does not fit this model; delete the "
                           "<out>.partial folder to start over")
    with torch.no_grad():
        for name, parameter in adapter.items():
            parameter.copy_(state.adapter[name])
        objective.tau.copy_(state.tau)
    optimizer.load_state_dict(state.optimizer)
    torch.set_rng_state(state.rng)
    if device.type == "cuda" and state.cuda_rng is not None:
        torch.cuda.set_rng_state(state.cuda_rng, device)
