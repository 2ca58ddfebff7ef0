"""The finetune artifact on disk: file names, the writer `finetune` calls, the reader `embed` calls.

A finetune artifact holds peft's two adapter files, `adapter_model.safetensors` (the LoRA
weights) and `adapter_config.json` (rank, α, dropout, target modules), so
`PeftModel.from_pretrained(base, FT_DIR)` loads it as it is, plus `history.json` (loss and τ
after every step). Its meta.json `config` is the resolved recipe: the base model (name or
folder, revision, signature), the tokenisation and pooling it was trained with, LoRA, the
optimiser and the augmentation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from specrec.artifacts import Meta, read_meta
from specrec.embed.encoders import ENCODERS
from specrec.errors import SpecrecError

KIND = "finetune"
ADAPTER_WEIGHTS_FILE = "adapter_model.safetensors"
ADAPTER_CONFIG_FILE = "adapter_config.json"
HISTORY_FILE = "history.json"
FINETUNE_FILES = (ADAPTER_WEIGHTS_FILE, ADAPTER_CONFIG_FILE, HISTORY_FILE)
RECIPE_KEYS = ("encoder", "model", "model_signature", "pooling", "padding_side", "max_length",
               "prompt", "normalize", "append_eos", "lora")


def write_finetune(directory: Path, *, adapter: dict, lora_config, history: list[dict]) -> None:
    """Write the adapter files (peft's names and layout) and the loss history into `directory`."""
    from safetensors.torch import save_file

    weights = {name: tensor.contiguous() for name, tensor in adapter.items()}
    save_file(weights, str(directory / ADAPTER_WEIGHTS_FILE), metadata={"format": "pt"})
    lora_config.save_pretrained(str(directory))
    (directory / HISTORY_FILE).write_text(json.dumps(history, indent=1))


@dataclass
class FinetuneArtifact:
    """A fine-tuned encoder as `embed --adapter` sees it: its meta and the recipe it records."""

    path: Path
    meta: Meta

    @property
    def recipe(self) -> dict:
        return self.meta.config

    def history(self) -> list[dict]:
        """One `{"step", "loss", "tau"}` row per optimiser step."""
        try:
            rows = json.loads((self.path / HISTORY_FILE).read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise SpecrecError(f"'{self.path / HISTORY_FILE}' is not valid JSON ({exc}); "
                               "rerun finetune --force")
        return rows

    def adapter_weights(self) -> dict:
        """The LoRA tensors by peft's names (torch tensors on the CPU)."""
        from safetensors.torch import load_file

        try:
            return load_file(str(self.path / ADAPTER_WEIGHTS_FILE))
        except Exception as exc:  # safetensors raises its own error type for damaged files
            message = " ".join(str(exc).split())[:200]
            raise SpecrecError(f"cannot read '{self.path / ADAPTER_WEIGHTS_FILE}' ({message}); "
                               "rerun finetune --force")

    def encoder_options(self, encoder: str | None, model: str | None, pooling: str | None,
                        padding_side: str | None, max_length: int | None, prompt: str | None,
                        normalize: bool | None, append_eos: bool | None) -> tuple:
        """`(encoder, model, pooling, padding_side, max_length, prompt, normalize, append_eos)`
        for `embed --adapter`: the pooling, EOS rule and prompt the adapter was trained with
        (another one given is refused), and its encoder alias, base model, padding side, max
        length and normalising (off: SCFT trains raw vectors) unless given. A base model that is its alias's own is left to the alias to find (a
        bundled copy such as MiniLM's, or the Hugging Face cache)."""
        recipe = self.recipe
        encoder = encoder or recipe["encoder"]
        spec = ENCODERS.get(encoder)
        if spec.backend is not None and spec.backend != "transformers":
            raise SpecrecError(f"encoder '{encoder}' is an API, an adapter needs a local model; "
                               f"drop --encoder to use the adapter's ('{recipe['encoder']}')")
        if model is None and recipe["model"] != spec.model:
            model = recipe["model"]
        for option, given, trained in (("--pooling", pooling, recipe["pooling"]),
                                       ("--prompt", prompt, recipe["prompt"]),
                                       ("--append-eos", append_eos, recipe["append_eos"])):
            if given is not None and given != trained:
                raise SpecrecError(
                    f"adapter '{self.path}' was trained with {option} {trained!r}, not {given!r}; "
                    f"drop {option} so the texts are embedded as they were fine-tuned"
                )
        return (encoder, model, recipe["pooling"],
                padding_side or recipe["padding_side"], max_length or recipe["max_length"],
                recipe["prompt"], recipe["normalize"] if normalize is None else normalize,
                recipe["append_eos"])

    def check_base_model(self, model: str, signature: str) -> None:
        """Refuse a model that is not the one the adapter was trained on."""
        if signature != self.recipe["model_signature"]:
            raise SpecrecError(
                f"model '{model}' is not the base model of adapter '{self.path}' (signature "
                f"{signature[:19]} vs {str(self.recipe['model_signature'])[:19]}); pass the "
                f"folder of '{self.recipe['model']}' with --model, or omit --model"
            )


def read_finetune(path: str | Path) -> FinetuneArtifact:
    """Read and validate a finetune artifact (meta.json, the adapter files, the recipe)."""
    path = Path(path)
    meta = read_meta(path, kind=KIND, required=FINETUNE_FILES)
    missing = [key for key in RECIPE_KEYS if key not in meta.config]
    if missing:
        raise SpecrecError(f"'{path}/meta.json' lacks the recipe key(s) {', '.join(missing)}; "
                           "rerun finetune --force")
    return FinetuneArtifact(path, meta)
