"""Every preset in experiments/ plans: its names and options are valid for this specrec."""

from __future__ import annotations

from pathlib import Path

import pytest

from specrec.plan import plan

PRESETS = sorted((Path(__file__).parents[2] / "experiments").glob("*.toml"))


def test_there_are_presets():
    assert any(p.name == "example.toml" for p in PRESETS)


@pytest.mark.parametrize("preset", PRESETS, ids=[p.name for p in PRESETS])
def test_a_preset_plans(preset, tmp_path):
    makefile = plan(preset, tmp_path / "plan", specrec="specrec").read_text()
    assert "$(RUN) $(SPECREC) train " in makefile
