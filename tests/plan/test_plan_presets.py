"""Every preset in experiments/ plans: its names and options are valid for this specrec."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from specrec.plan import plan

PRESETS = sorted((Path(__file__).parents[2] / "experiments").glob("*.toml"))


def test_there_are_presets():
    assert any(p.name == "example.toml" for p in PRESETS)
    assert any(p.name == "ace.toml" for p in PRESETS)


@pytest.mark.parametrize("preset", PRESETS, ids=[p.name for p in PRESETS])
def test_a_preset_plans(preset, tmp_path):
    makefile = plan(preset, tmp_path / "plan", specrec="specrec").read_text()
    assert "$(RUN) $(SPECREC) train " in makefile


def tuning_runs(folder: Path) -> tuple[int, int]:
    record = json.loads((folder / "plan.json").read_text())
    runs = {r for g in record["groups"] for c in g["configurations"] for s, r in c["runs"].items()
            if int(s) in record["tune_seeds"]}
    return len(runs), len(record["groups"])


def test_the_ace_preset_is_the_budget_run_and_the_full_grid_with_one_setting(tmp_path):
    ace = next(p for p in PRESETS if p.name == "ace.toml")
    plan(ace, tmp_path / "budget", specrec="specrec")
    assert tuning_runs(tmp_path / "budget") == (18, 14)  # 2 backbones × (6 + 3); 7 methods
    plan(ace, tmp_path / "full", specrec="specrec", overrides=["experiment.budget=false"])
    assert tuning_runs(tmp_path / "full") == (495, 21)  # 3 backbones × (6 × 5 + 9 × 3 × 5)
    record = json.loads((tmp_path / "full" / "plan.json").read_text())
    assert record["seeds"] == [0, 1, 2, 3] and record["budget"] is False
    plan(ace, tmp_path / "beauty", specrec="specrec",
         overrides=["experiment.budget=false", "datasets.main.source=amazon2014",
                    f'datasets.main.paths=["{tmp_path}"]'])
    text = " ".join((tmp_path / "beauty" / "Makefile").read_text().replace("\\\n", " ").split())
    assert f"preprocess amazon2014 {tmp_path} --protocol loo" in text


def test_the_spectran_preset_follows_alphafuses_protocol(tmp_path):
    spectran = next(p for p in PRESETS if p.name == "spectran.toml")
    plan(spectran, tmp_path / "budget", specrec="specrec")
    assert tuning_runs(tmp_path / "budget") == (11, 11)  # sasrec-af: 9 methods + 2 at d = 32
    text = " ".join((tmp_path / "budget" / "Makefile").read_text().replace("\\\n", " ").split())
    assert "--protocol user-split" in text and " --max-len 10 " in text
    assert "--loss infonce --loss-opt negatives=64 --loss-opt tau=0.07" in text
    assert "--valid-metric ndcg@20" in text and "--backbone sasrec-af" in text
    plan(spectran, tmp_path / "full", specrec="specrec", overrides=["experiment.budget=false"])
    assert tuning_runs(tmp_path / "full") == (204, 51)  # 17 methods × 4 weight decays × 3
