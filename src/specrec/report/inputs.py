"""Load a report's inputs by kind with their stages' readers, then the runs and tables they name."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from specrec.artifacts import Meta, read_meta
from specrec.console import log
from specrec.errors import SpecrecError
from specrec.evaluate.store import Evaluation, read_evaluation
from specrec.runs.store import RunArtifact, read_run
from specrec.transform.store import read_diagnostics, read_table

REPORTABLE = ("metrics", "run", "transform")


@dataclass
class Transform:
    """A transform artifact as the report shows it: method, parameters, spectra, scalars."""

    path: Path
    meta: Meta
    method: str
    fusion: str
    params: dict
    spectra: dict[str, np.ndarray] = field(default_factory=dict)
    scalars: dict[str, float] = field(default_factory=dict)

    @property
    def encoder(self) -> object:
        """The encoder of the embeddings the table was made from, as the transform recorded it."""
        return self.meta.stats.get("encoder")


@dataclass
class Inputs:
    """Everything a report reads, in command-line order (referenced artifacts after)."""

    evaluations: list[Evaluation] = field(default_factory=list)
    runs: list[RunArtifact] = field(default_factory=list)
    histories: dict[Path, dict[str, np.ndarray]] = field(default_factory=dict)  # by run path
    transforms: list[Transform] = field(default_factory=list)

    def all(self) -> list[Evaluation | RunArtifact | Transform]:
        return [*self.evaluations, *self.runs, *self.transforms]


def load_inputs(paths: list[Path]) -> Inputs:
    """Load every named artifact by its kind, then the runs and transforms they point to."""
    loaded = Inputs()
    seen: set[Path] = set()
    for path in map(Path, paths):
        if path.resolve() in seen:
            continue
        seen.add(path.resolve())
        kind = read_meta(path).kind
        if kind == "metrics":
            loaded.evaluations.append(read_evaluation(path))
        elif kind == "run":
            _add_run(loaded, path)
        elif kind == "transform":
            loaded.transforms.append(load_transform(path))
        else:
            raise SpecrecError(
                f"'{path}' is an artifact of kind '{kind}'; report reads "
                f"{', '.join(REPORTABLE)} artifacts"
            )
    _add_referenced(loaded, seen)
    return loaded


def _add_run(loaded: Inputs, path: Path) -> None:
    """A run with its best validation metrics and history, both checked now (before any output)."""
    run = read_run(path)
    run.best_valid  # noqa: B018  (validates stats.best_valid)
    history = run.history()
    loaded.runs.append(run)
    loaded.histories[run.path] = history


def _add_referenced(loaded: Inputs, seen: set[Path]) -> None:
    """Runs named in metrics artifacts and tables named in runs, where those paths exist."""
    for evaluation in list(loaded.evaluations):
        path = evaluation.run_path
        if path.is_dir() and path.resolve() not in seen:
            seen.add(path.resolve())
            _optional(_add_run, loaded, path)
    records = [e.run_record for e in loaded.evaluations] + [r.record for r in loaded.runs]
    for record in records:
        table = Path(str(record["table"])) if record.get("table") else None
        if table is not None and table.is_dir() and table.resolve() not in seen:
            seen.add(table.resolve())
            _optional(lambda loaded, path: loaded.transforms.append(load_transform(path)),
                      loaded, table)


def _optional(add, loaded: Inputs, path: Path) -> None:
    """A referenced artifact is optional: report it and go on when it cannot be read."""
    try:
        add(loaded, path)
    except SpecrecError as exc:
        log(f"[yellow]skipping referenced artifact[/yellow] '{path}': {exc}")


def load_transform(path: Path) -> Transform:
    """A transform artifact (`read_table`), its `/diagnostics` split into spectra and scalars."""
    table = read_table(path)
    try:
        diagnostics = read_diagnostics(path)
    except OSError as exc:
        raise SpecrecError(f"cannot read diagnostics of '{path}' ({exc}); rerun transform --force")
    diagnostics = {_before_after_name(name): value for name, value in diagnostics.items()}
    arrays = {n: v for n, v in diagnostics.items() if np.ndim(v) >= 1}
    # singular values are what the plots draw; other spectra only when none are stored
    keep = [n for n in arrays if "singular" in n] or [n for n in arrays if "spectrum" in n]
    spectra = {name: np.asarray(arrays[name], dtype=np.float64).ravel() for name in keep}
    scalars = {name: float(v) for name, v in diagnostics.items() if np.ndim(v) == 0}
    return Transform(path, table.meta, table.method, table.fusion, table.params, spectra, scalars)


def _before_after_name(name: str) -> str:
    """`input_X` -> `X_before`, `output_X` -> `X_after` (the transform stage's naming)."""
    for prefix, suffix in (("input_", "_before"), ("output_", "_after")):
        if name.startswith(prefix):
            return name[len(prefix):] + suffix
    return name
