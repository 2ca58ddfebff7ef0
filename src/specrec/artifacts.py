"""Artifact directories: meta.json, fingerprints, atomic writes, skip-if-unchanged, index checks."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from specrec import __version__
from specrec.errors import SpecrecError

SCHEMA_VERSION = 1
KINDS = ("dataset", "embeddings", "transform", "run", "metrics", "report")
META_FILE = "meta.json"


def _canonical_json(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str).encode()


def sha256_of(obj: Any) -> str:
    """`sha256:<hex>` of the canonical JSON form of `obj`."""
    return "sha256:" + hashlib.sha256(_canonical_json(obj)).hexdigest()


def items_fingerprint(item_ids: Iterable[str]) -> str:
    """sha256 over the raw item id strings in index order 1..N (each NUL-terminated)."""
    digest = hashlib.sha256()
    for item_id in item_ids:
        digest.update(str(item_id).encode("utf-8") + b"\0")
    return "sha256:" + digest.hexdigest()


def stage_fingerprint(kind: str, config: dict, inputs: dict) -> str:
    """Fingerprint of a stage output: kind, schema version, resolved config, input fingerprints."""
    input_fps = {name: spec.get("fingerprint") for name, spec in sorted(inputs.items())}
    return sha256_of({"kind": kind, "schema": SCHEMA_VERSION, "config": config, "inputs": input_fps})


@dataclass
class Meta:
    """The contents of an artifact's meta.json."""

    kind: str
    config: dict
    inputs: dict
    items_fingerprint: str | None
    fingerprint: str
    stats: dict = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION
    specrec_version: str = __version__
    created_utc: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=False, default=_json_default)


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def input_ref(path: Path, meta: Meta) -> dict:
    """How a stage records one of its inputs in meta.json."""
    return {"path": str(path), "fingerprint": meta.fingerprint, "kind": meta.kind}


def read_meta(path: str | Path, kind: str | None = None, required: Sequence[str] = ()) -> Meta:
    """Read and validate an artifact's meta.json (kind, schema version, required files)."""
    path = Path(path)
    meta_path = path / META_FILE
    what = f"{kind} artifact" if kind else "artifact"
    if not path.is_dir():
        raise SpecrecError(f"{what} '{path}' does not exist; create it with the stage that makes it")
    if not meta_path.is_file():
        raise SpecrecError(f"'{path}' is not a specrec artifact (no {META_FILE}); rerun its stage")
    try:
        raw = json.loads(meta_path.read_text())
        meta = Meta(**{k: raw[k] for k in Meta.__dataclass_fields__ if k in raw})
    except (json.JSONDecodeError, TypeError, KeyError) as exc:
        raise SpecrecError(f"'{meta_path}' is malformed ({exc}); rerun its stage with --force")
    if kind is not None and meta.kind != kind:
        raise SpecrecError(f"'{path}' is a {meta.kind} artifact, but a {kind} artifact is needed here")
    if meta.schema_version != SCHEMA_VERSION:
        raise SpecrecError(
            f"'{path}' has schema version {meta.schema_version}, this specrec reads "
            f"{SCHEMA_VERSION}; rerun its stage with --force"
        )
    for name in required:
        if not (path / name).exists():
            raise SpecrecError(f"{what} '{path}' lacks '{name}'; rerun its stage with --force")
    return meta


def check_same_items(a_name: str, a: Meta, b_name: str, b: Meta) -> None:
    """Refuse to combine artifacts built on different item indexes."""
    if a.items_fingerprint != b.items_fingerprint:
        raise SpecrecError(
            f"items of {a_name} and {b_name} differ (items fingerprint {str(a.items_fingerprint)[:19]} "
            f"vs {str(b.items_fingerprint)[:19]}); rebuild {b_name} from the same dataset"
        )


@contextmanager
def atomic_dir(out: Path) -> Iterator[Path]:
    """Yield a temporary sibling directory; on success it replaces `out`, on failure it vanishes."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f"{out.name}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = out.parent / f"{out.name}.old-{os.getpid()}"
    if out.exists():
        out.rename(old)
    tmp.rename(out)
    shutil.rmtree(old, ignore_errors=True)


def write_meta(directory: Path, meta: Meta) -> None:
    meta.created_utc = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    tmp = directory / (META_FILE + ".part")
    tmp.write_text(meta.to_json())
    tmp.replace(directory / META_FILE)


def up_to_date(out: Path, fingerprint: str) -> Meta | None:
    """The existing artifact at `out` if it already carries `fingerprint`, else None."""
    try:
        meta = read_meta(out)
    except SpecrecError:
        return None
    return meta if meta.fingerprint == fingerprint else None


def build_artifact(
    out: str | Path,
    *,
    kind: str,
    config: dict,
    inputs: dict,
    items_fp: str | None,
    build: Callable[[Path], dict],
    force: bool = False,
    log: Callable[[str], None] | None = None,
) -> Meta:
    """Run `build(tmp_dir) -> stats` unless `out` is already up to date; write meta.json last.

    The whole directory appears atomically: a crash leaves no artifact that looks complete.
    """
    out = Path(out)
    fingerprint = stage_fingerprint(kind, config, inputs)
    if not force:
        existing = up_to_date(out, fingerprint)
        if existing is not None:
            if log:
                log(f"{out} is up to date ({kind}, {fingerprint[:19]}); skipping (--force to redo)")
            return existing
    with atomic_dir(out) as tmp:
        stats = build(tmp)
        meta = Meta(
            kind=kind,
            config=config,
            inputs=inputs,
            items_fingerprint=items_fp,
            fingerprint=fingerprint,
            stats=stats or {},
        )
        write_meta(tmp, meta)
    return meta
