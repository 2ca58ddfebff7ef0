"""Helpers of the plan tests: experiment files, planted tuning runs, file listings."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from specrec.artifacts import Meta, write_meta
from specrec.runs.store import CONFIG_FILE, RUN_FILES

TINY_TRAIN = """
[train]
dim = 8
max_len = 5
epochs = 2

[backbones.sasrec]
options = { n_layers = 1, n_heads = 1, inner_size = 8 }
"""


def write_experiment(folder: Path, text: str, name: str = "exp.toml") -> Path:
    path = Path(folder) / name
    path.write_text(textwrap.dedent(text))
    return path


def tiny_inputs(inputs: dict[str, Path]) -> str:
    """The `[datasets]` and `[encoders]` tables naming the session's tiny artifacts."""
    return f"""
[datasets.syn]
path = "{inputs['data']}"

[encoders.syn]
path = "{inputs['emb']}"
"""


def plant_run(path: Path, best_valid: dict[str, float]) -> None:
    """A run artifact as `read_run` sees it, with the given best validation metrics (no model)."""
    path.mkdir(parents=True)
    for name in RUN_FILES:
        (path / name).write_bytes(b"")
    (path / CONFIG_FILE).write_text(json.dumps({"backbone": "sasrec", "dataset": "data"}))
    write_meta(path, Meta(kind="run", config={}, inputs={}, items_fingerprint=None,
                          fingerprint="sha256:planted", stats={"best_valid": best_valid}))


def files_under(folder: Path) -> dict[str, int]:
    """Every file below `folder` with its mtime (ns), to see that nothing was written."""
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns
            for p in Path(folder).rglob("*") if p.is_file()}
