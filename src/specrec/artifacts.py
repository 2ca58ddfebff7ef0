"""Artifact directories: meta.json, fingerprints, index checks, and the one safe way to write an --out."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import sys
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from specrec import __version__
from specrec.errors import SpecrecError

SCHEMA_VERSION = 1
KINDS = ("dataset", "embeddings", "transform", "run", "metrics", "report", "finetune")
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
        raise SpecrecError(
            f"'{path}' is {_a(meta.kind)} artifact, but {_a(kind)} artifact is needed here"
        )
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


def artifact_kind(path: Path) -> str | None:
    """The kind a folder's meta.json declares, or None when the folder is not a specrec artifact."""
    meta_path = Path(path) / META_FILE
    if not meta_path.is_file():
        return None
    try:
        raw = json.loads(meta_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    kind = raw.get("kind") if isinstance(raw, dict) else None
    return kind if kind in KINDS and "fingerprint" in raw else None


def _overlaps(out: Path, other: Path) -> str | None:
    """How `out` collides with `other` ('is', 'contains', 'lies inside'), or None."""
    if out == other:
        return "is"
    if out in other.parents:
        return "contains"
    if other in out.parents:
        return "lies inside"
    return None


def check_output(out: Path, kind: str, protect: Iterable[Path] = ()) -> None:
    """Refuse an `out` whose writing could destroy anything but a `kind` artifact.

    Refused: `out` is, contains or lies inside a path in `protect` (the stage's inputs); `out` is
    a file, an artifact of another kind, or a non-empty folder that is not an artifact; `out` lies
    inside any artifact. Nothing on disk is touched.
    """
    resolved = Path(out).resolve()
    for path in protect:
        relation = _overlaps(resolved, Path(path).resolve())
        if relation:
            raise SpecrecError(
                f"--out '{out}' {relation} the input '{path}'; writing there would destroy it, "
                "choose another --out"
            )
    for parent in resolved.parents:
        if (found := artifact_kind(parent)) is not None:
            raise SpecrecError(
                f"--out '{out}' lies inside the {found} artifact '{parent}'; choose a folder "
                "outside it"
            )
    if not resolved.exists():
        return
    if not resolved.is_dir():
        raise SpecrecError(f"--out '{out}' is a file; choose a folder for the {kind} artifact")
    found = artifact_kind(resolved)
    if found is None and any(resolved.iterdir()):
        raise SpecrecError(
            f"--out '{out}' is a non-empty folder that is not a specrec artifact; specrec never "
            "replaces other files, choose an empty or new folder"
        )
    if found is not None and found != kind:
        raise SpecrecError(
            f"--out '{out}' holds {_a(found)} artifact; {_a(kind)} artifact cannot replace it, "
            "choose another --out"
        )


def _a(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def lock_path(out: Path) -> Path:
    """The lock file that serialises writers of `out` (a hidden sibling, never inside it)."""
    out = Path(out).resolve()
    return out.parent / f".{out.name}.lock"


@contextmanager
def output_lock(out: Path) -> Iterator[None]:
    """Hold the write lock of `out`; refuse when another process holds it, naming that process."""
    from filelock import FileLock, Timeout

    path = lock_path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    owner = path.with_name(path.name + ".owner")
    lock = FileLock(str(path), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        holder = owner.read_text().strip() if owner.is_file() else "another process"
        raise SpecrecError(
            f"--out '{out}' is being written by {holder}; wait for it to finish or choose "
            "another --out"
        ) from None
    try:
        command = " ".join(Path(sys.argv[0]).name if i == 0 else a for i, a in enumerate(sys.argv))
        started = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
        owner.write_text(f"pid {os.getpid()} on {socket.gethostname()} ({command}, since {started})")
        yield
    finally:
        owner.unlink(missing_ok=True)
        lock.release()


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


def remove_stale_siblings(out: Path) -> None:
    """Delete the `<out>.tmp-<pid>` / `<out>.old-<pid>` folders a killed writer left behind.

    Called only while holding `out`'s lock, so no live writer owns any of them.
    """
    out = Path(out)
    if not out.parent.is_dir():
        return
    for sibling in out.parent.iterdir():
        stem, dot, suffix = sibling.name.rpartition(".")
        tag, _, pid = suffix.partition("-")
        if dot and stem == out.name and tag in ("tmp", "old") and pid.isdigit() and sibling.is_dir():
            shutil.rmtree(sibling, ignore_errors=True)


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


def input_paths(inputs: dict) -> list[Path]:
    """The paths of a stage's recorded inputs (what its --out must never touch)."""
    return [Path(spec["path"]) for spec in inputs.values() if spec.get("path")]


@dataclass
class OutputClaim:
    """A stage's checked, locked hold on its --out: `existing` when nothing needs doing."""

    out: Path
    kind: str
    config: dict
    inputs: dict
    fingerprint: str
    existing: Meta | None

    def write(self, build: Callable[[Path], dict], items_fp: str | None) -> Meta:
        """Run `build(tmp) -> stats` in a temporary sibling, write meta.json last, swap it in."""
        with atomic_dir(self.out) as tmp:
            stats = build(tmp)
            meta = Meta(kind=self.kind, config=self.config, inputs=self.inputs,
                        items_fingerprint=items_fp, fingerprint=self.fingerprint,
                        stats=stats or {})
            write_meta(tmp, meta)
        return meta


@contextmanager
def claim_output(
    out: str | Path,
    *,
    kind: str,
    config: dict,
    inputs: dict,
    protect: Iterable[Path] = (),
    force: bool = False,
    log: Callable[[str], None] | None = None,
    lock: bool = True,
) -> Iterator[OutputClaim]:
    """Check `out` (see `check_output`), lock it, and tell whether it is already up to date.

    `inputs` are the recorded inputs (their paths are protected, as are the extra `protect`
    paths). An artifact of the same kind is replaced only when stale or with `force`, and only
    through `OutputClaim.write`. `lock=False` is for the non-writing ranks of a distributed run.
    """
    out = Path(out)
    protected = [*input_paths(inputs), *map(Path, protect)]
    fingerprint = stage_fingerprint(kind, config, inputs)
    check_output(out, kind, protected)
    with output_lock(out) if lock else _no_lock():
        check_output(out, kind, protected)  # again: it may have changed while we waited
        if lock:
            remove_stale_siblings(out)
        existing = None if force else up_to_date(out, fingerprint)
        if existing is not None and log:
            log(f"{out} is up to date ({kind}, {fingerprint[:19]}); skipping (--force to redo)")
        yield OutputClaim(out, kind, config, inputs, fingerprint, existing)


@contextmanager
def _no_lock() -> Iterator[None]:
    yield


def build_artifact(
    out: str | Path,
    *,
    kind: str,
    config: dict,
    inputs: dict,
    items_fp: str | None,
    build: Callable[[Path], dict],
    protect: Iterable[Path] = (),
    force: bool = False,
    log: Callable[[str], None] | None = None,
) -> Meta:
    """Run `build(tmp_dir) -> stats` unless `out` is already up to date; write meta.json last.

    The whole directory appears atomically: a crash leaves no artifact that looks complete.
    """
    with claim_output(out, kind=kind, config=config, inputs=inputs, protect=protect, force=force,
                      log=log) as claim:
        return claim.existing or claim.write(build, items_fp)
