"""The transform artifact on disk: `table.h5` with the item table, frozen part, basis, diagnostics."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from specrec.artifacts import Meta, read_meta
from specrec.errors import SpecrecError

TABLE_FILE = "table.h5"
FUSIONS = ("init", "frozen_plus_id", "adapter")


@dataclass
class TransformTable:
    """What `train` needs from a transform artifact to build its item embedder.

    - fusion `init`: `item_table [N+1, k]` initialises a fully trainable table.
    - fusion `frozen_plus_id`: `frozen [N+1, k]` stays fixed; a trainable ID table is added on
      the last `params["null_dim"]` dims (or replaces them when `params["cover"]`).
    - fusion `adapter`: `basis` holds the adapter's stored inputs (e.g. features, U, S).
    """

    path: Path
    meta: Meta
    method: str
    fusion: str
    params: dict
    item_table: np.ndarray | None = None
    frozen: np.ndarray | None = None
    basis: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def dim(self) -> int:
        array = self.item_table if self.item_table is not None else self.frozen
        if array is None:
            raise SpecrecError(f"transform '{self.path}' has no item table; it is an adapter input")
        return int(array.shape[1])

    @property
    def items_fingerprint(self) -> str:
        return str(self.meta.items_fingerprint)


def write_table(
    path: Path,
    *,
    method: str,
    fusion: str,
    params: dict,
    items_fp: str,
    item_table: np.ndarray | None = None,
    frozen: np.ndarray | None = None,
    basis: dict[str, np.ndarray] | None = None,
    diagnostics: dict[str, np.ndarray | float] | None = None,
) -> None:
    """Write `table.h5` into an artifact directory under construction (see `build_artifact`)."""
    if fusion not in FUSIONS:
        raise ValueError(f"fusion must be one of {FUSIONS}, not {fusion!r}")
    with h5py.File(path / TABLE_FILE, "w") as f:
        f.attrs["method"] = method
        f.attrs["fusion"] = fusion
        f.attrs["items_fingerprint"] = items_fp
        for key, value in params.items():
            f.attrs[f"param.{key}"] = "null" if value is None else value
        for name, array in (("item_table", item_table), ("frozen", frozen)):
            if array is not None:
                _check_rows(array, name)
                f.create_dataset(name, data=np.asarray(array, dtype=np.float32))
        for name, array in (basis or {}).items():
            f.create_dataset(f"basis/{name}", data=np.asarray(array))
        for name, value in (diagnostics or {}).items():
            if np.ndim(value) == 0:
                f.require_group("diagnostics").attrs[name] = float(value)
            else:
                f.create_dataset(f"diagnostics/{name}", data=np.asarray(value, dtype=np.float64))


def _check_rows(array: np.ndarray, name: str) -> None:
    if array.ndim != 2 or np.any(array[0] != 0):
        raise ValueError(f"{name} must be 2-D with a zero padding row 0")
    if not np.isfinite(array).all():
        raise SpecrecError(f"the {name} computed has NaN or Inf; check the input embeddings")


def read_table(path: str | Path) -> TransformTable:
    """Open and validate a transform artifact written by `specrec transform`."""
    path = Path(path)
    meta = read_meta(path, kind="transform", required=(TABLE_FILE,))
    try:
        with h5py.File(path / TABLE_FILE, "r") as f:
            attrs = dict(f.attrs)
            params = {
                k[len("param."):]: _plain(v) for k, v in attrs.items() if k.startswith("param.")
            }
            table = TransformTable(
                path=path,
                meta=meta,
                method=str(_plain(attrs["method"])),
                fusion=str(_plain(attrs["fusion"])),
                params=params,
                item_table=f["item_table"][...] if "item_table" in f else None,
                frozen=f["frozen"][...] if "frozen" in f else None,
                basis={k: v[...] for k, v in f["basis"].items()} if "basis" in f else {},
            )
    except (OSError, KeyError) as exc:
        raise SpecrecError(f"cannot read '{path / TABLE_FILE}' ({exc}); rerun transform --force")
    if table.fusion not in FUSIONS:
        raise SpecrecError(f"'{path}': unknown fusion '{table.fusion}'")
    return table


def read_diagnostics(path: str | Path) -> dict[str, np.ndarray | float]:
    """Spectra (arrays) and scalar diagnostics stored under `/diagnostics`."""
    out: dict[str, np.ndarray | float] = {}
    with h5py.File(Path(path) / TABLE_FILE, "r") as f:
        if "diagnostics" in f:
            group = f["diagnostics"]
            out.update({k: float(v) for k, v in group.attrs.items()})
            out.update({k: v[...] for k, v in group.items()})
    return out


def _plain(value: object) -> object:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, str) and value == "null":
        return None
    if isinstance(value, np.ndarray):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    return value
