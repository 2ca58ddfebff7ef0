"""LoRA targets per architecture: the attention and MLP projections inside the blocks."""

from __future__ import annotations

import pytest

from specrec.errors import SpecrecError
from specrec.finetune.lora import add_lora, model_skeleton, resolve_lora

PAPER = dict(r=8, alpha=32, dropout=0.1)


def test_llama_gets_its_seven_projections(llama_dir):
    recipe = resolve_lora(model_skeleton(llama_dir, "llama"), "llama", **PAPER)
    assert recipe.target_modules == ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                     "up_proj", "down_proj")
    assert recipe.exclude_modules == () and (recipe.r, recipe.alpha, recipe.dropout) == (8, 32, 0.1)


def test_minilm_gets_query_key_value_dense_but_not_the_pooler(minilm_dir):
    skeleton = model_skeleton(minilm_dir, "minilm")
    recipe = resolve_lora(skeleton, "minilm", **PAPER)
    assert recipe.target_modules == ("query", "key", "value", "dense")
    assert recipe.exclude_modules == ("pooler.dense",)
    wrapped = add_lora(skeleton, recipe, "minilm")
    names = [name for name, _ in wrapped.named_parameters()]
    adapted = {name.split(".lora_A")[0] for name in names if ".lora_A." in name}
    assert len(adapted) == 6 * 6  # 6 layers × query, key, value and 3 dense (attention, MLP in/out)
    assert not any("pooler" in name for name in adapted)


def test_named_targets_are_taken_as_given(llama_dir):
    recipe = resolve_lora(model_skeleton(llama_dir, "llama"), "llama", **PAPER,
                          target_modules=["q_proj", "v_proj"])
    assert recipe.target_modules == ("q_proj", "v_proj") and recipe.exclude_modules == ()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (dict(target_modules=["q_proj", "query"]), "target module(s) query do not exist"),
        (dict(r=0), "--lora-r must be a positive rank"),
        (dict(dropout=1.0), "--lora-dropout must be in [0, 1)"),
    ],
)
def test_bad_lora_settings_are_one_line_errors(llama_dir, options, message):
    settings = {**PAPER, **options}
    with pytest.raises(SpecrecError) as info:
        resolve_lora(model_skeleton(llama_dir, "llama"), "llama", **settings)
    assert message in str(info.value) and "\n" not in str(info.value)
    if "target" in options:
        assert "q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj" in str(info.value)


def test_a_target_peft_cannot_adapt_is_refused(llama_dir):
    skeleton = model_skeleton(llama_dir, "llama")
    recipe = resolve_lora(skeleton, "llama", **PAPER, target_modules=["input_layernorm"])
    with pytest.raises(SpecrecError, match="peft cannot add LoRA") as info:
        add_lora(skeleton, recipe, "llama")
    assert "\n" not in str(info.value)
