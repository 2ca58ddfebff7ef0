"""LoRA on a model's attention and MLP projections, resolved per architecture, applied with peft.

"The attention and MLP projections" of a model are the linear layers (nn.Linear, or GPT-2's
Conv1D) inside its stack of transformer blocks, the `nn.ModuleList` with `num_hidden_layers`
entries: LLaMA-like models give q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj;
BERT-like models (MiniLM) give query, key, value, dense. peft matches these names as suffixes
of the full module names, so same-named layers outside the blocks (BERT's pooler.dense) are
listed in `exclude_modules`. Names given with --target-modules are taken as they are.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from specrec.embed.encoders.locate import quiet_offline_transformers
from specrec.errors import SpecrecError


@dataclass(frozen=True)
class LoraRecipe:
    """The resolved LoRA settings: rank r, scale α (the update is (α/r)·BA), dropout, targets."""

    r: int
    alpha: float
    dropout: float
    target_modules: tuple[str, ...]
    exclude_modules: tuple[str, ...]

    def record(self) -> dict:
        fields = asdict(self)
        return {**fields, "target_modules": list(self.target_modules),
                "exclude_modules": list(self.exclude_modules)}

    def peft_config(self):
        """The peft `LoraConfig` (no task type: the adapter wraps the bare AutoModel)."""
        from peft import LoraConfig

        return LoraConfig(
            r=self.r, lora_alpha=self.alpha, lora_dropout=self.dropout,
            target_modules=list(self.target_modules),
            exclude_modules=list(self.exclude_modules) or None,
        )  # fmt: skip


def model_skeleton(directory: Path, model_name: str) -> nn.Module:
    """The AutoModel of `directory` built on the meta device: module names, no weights (cheap)."""
    quiet_offline_transformers()
    from transformers import AutoConfig, AutoModel

    try:
        config = AutoConfig.from_pretrained(directory, local_files_only=True)
        with torch.device("meta"):
            return AutoModel.from_config(config)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SpecrecError(
            f"cannot build model '{model_name}' from its config ({message}); "
            "pass a complete local model folder"
        ) from None


def _projection_types() -> tuple[type, ...]:
    from transformers.pytorch_utils import Conv1D

    return (nn.Linear, Conv1D)


def layer_blocks(model: nn.Module, model_name: str) -> str:
    """The name of the model's stack of transformer blocks (e.g. `layers`, `encoder.layer`)."""
    config = getattr(model, "config", None)
    count = getattr(config, "num_hidden_layers", None) or getattr(config, "n_layer", None)
    for name, module in model.named_modules():
        if name and isinstance(module, nn.ModuleList) and count and len(module) == count:
            return name
    kind = getattr(config, "model_type", type(model).__name__)
    raise SpecrecError(
        f"cannot find the transformer blocks of model '{model_name}' ({kind}); "
        "name the layers to adapt with --target-modules a,b,c"
    )


def resolve_lora(
    model: nn.Module,
    model_name: str,
    *,
    r: int,
    alpha: float,
    dropout: float,
    target_modules: list[str] | None = None,
) -> LoraRecipe:
    """LoRA settings for `model` (a skeleton is enough); unknown target names are refused."""
    if r < 1:
        raise SpecrecError(f"--lora-r must be a positive rank, got {r}")
    if not alpha > 0:
        raise SpecrecError(f"--lora-alpha must be positive, got {alpha}")
    if not 0 <= dropout < 1:
        raise SpecrecError(f"--lora-dropout must be in [0, 1), got {dropout}")
    projections = [name for name, m in model.named_modules() if isinstance(m, _projection_types())]
    if target_modules:
        names = [name for name, _ in model.named_modules()]
        missing = [t for t in target_modules if not any(_matches(n, t) for n in names)]
        if missing:
            available = ", ".join(dict.fromkeys(n.rpartition(".")[2] for n in projections))
            kind = getattr(getattr(model, "config", None), "model_type", type(model).__name__)
            raise SpecrecError(
                f"target module(s) {', '.join(missing)} do not exist in model '{model_name}' "
                f"({kind}); its projections are {available}"
            )
        return LoraRecipe(r, float(alpha), float(dropout), tuple(target_modules), ())
    prefix = layer_blocks(model, model_name) + "."
    inside = [name for name in projections if name.startswith(prefix)]
    if not inside:
        raise SpecrecError(
            f"model '{model_name}' has no linear layers in its blocks; name the layers to adapt "
            "with --target-modules a,b,c"
        )
    leaves = tuple(dict.fromkeys(name.rpartition(".")[2] for name in inside))
    outside = tuple(
        name for name in projections
        if not name.startswith(prefix) and name.rpartition(".")[2] in leaves
    )  # fmt: skip
    return LoraRecipe(r, float(alpha), float(dropout), leaves, outside)


def _matches(module_name: str, target: str) -> bool:
    """peft's rule: a target names a module exactly or as a suffix after a dot."""
    return module_name == target or module_name.endswith("." + target)


def add_lora(model: nn.Module, recipe: LoraRecipe, model_name: str) -> nn.Module:
    """`model` wrapped by peft with fresh LoRA weights (A from torch's global RNG, B = 0)."""
    from peft import get_peft_model

    try:
        with warnings.catch_warnings():  # peft asks transformers a deprecated question
            warnings.simplefilter("ignore", FutureWarning)
            return get_peft_model(model, recipe.peft_config())
    except (ValueError, TypeError) as exc:  # e.g. a target that is a LayerNorm
        message = " ".join(str(exc).split())[:200]
        raise SpecrecError(
            f"peft cannot add LoRA to model '{model_name}' ({message}); choose other "
            "--target-modules"
        ) from None
