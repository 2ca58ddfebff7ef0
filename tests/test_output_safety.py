"""No `--out` ever destroys data: every stage × every would-be victim is refused, byte-identical."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from specrec.cli import main
from specrec.evaluate.evaluate import evaluate
from specrec.runs.config import TrainConfig
from specrec.testing.synthetic import markov_sequences, write_embeddings, write_sequences
from specrec.train.train import train
from specrec.transform.transform import transform

N_ITEMS, DIM = 12, 8
TINY_TRAIN = ["--dim", "4", "--max-len", "5", "--epochs", "1", "--device", "cpu",
              "--backbone-opt", "n_layers=1", "--backbone-opt", "n_heads=1",
              "--backbone-opt", "inner_size=8"]


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> SimpleNamespace:
    """One artifact of every kind, a raw file, a user's folder and a plain file, side by side."""
    root = tmp_path_factory.mktemp("safety")
    csv = root / "raw" / "events.csv"
    csv.parent.mkdir()
    csv.write_text("user,item,time\n" + "".join(
        f"u{u},i{(u + t) % 5},{100 * t}\n" for u in range(6) for t in range(4)))
    data = root / "data"
    write_sequences(data, markov_sequences(16, N_ITEMS, 7, seed=1), n_items=N_ITEMS)
    emb = root / "emb"
    write_embeddings(emb, np.random.default_rng(0).standard_normal((N_ITEMS, DIM)))
    table = root / "table"
    transform(method="pca", embeddings=emb, out=table, dim=4, log=lambda m: None)
    config = TrainConfig(dim=4, max_len=5, epochs=1,
                         backbone_options={"n_layers": 1, "n_heads": 1, "inner_size": 8})
    run = root / "run"
    train(dataset=data, table=table, out=run, config=config, device="cpu", log=lambda m: None)
    metrics = root / "metrics"
    evaluate(run=run, out=metrics, device="cpu", log=lambda m: None)
    mine = root / "mine"
    (mine / "sub").mkdir(parents=True)
    (mine / "thesis.tex").write_text("years of work\n")
    (mine / "sub" / "data.bin").write_bytes(bytes(range(256)))
    note = root / "note.txt"
    note.write_text("do not delete\n")
    return SimpleNamespace(root=root, csv=csv, data=data, emb=emb, table=table, run=run,
                           metrics=metrics, mine=mine, note=note)


def command(stage: str, w: SimpleNamespace, out: Path) -> list[str]:
    return {
        "preprocess": ["preprocess", "csv", str(w.csv), "--min-user", "1", "--min-item", "1",
                       "--column", "user=user", "--column", "item=item", "--column", "time=time"],
        "embed": ["embed", "--dataset", str(w.data), "--encoder", "minilm", "--device", "cpu"],
        "transform": ["transform", "pca", "--embeddings", str(w.emb), "--dim", "4"],
        "train": ["train", "--dataset", str(w.data), "--table", str(w.table), *TINY_TRAIN],
        "evaluate": ["evaluate", str(w.run), "--device", "cpu"],
        "report": ["report", str(w.metrics)],
    }[stage] + ["--out", str(out)]


INPUTS = {  # what each stage reads (evaluate also reads the run's dataset and table)
    "preprocess": ["csv"], "embed": ["data"], "transform": ["emb"], "train": ["data", "table"],
    "evaluate": ["run", "data", "table"], "report": ["metrics"],
}
OTHER_KIND = {"preprocess": "run", "embed": "run", "transform": "run", "train": "emb",
              "evaluate": "emb", "report": "emb"}
STAGES = list(INPUTS)


def snapshot(path: Path) -> dict[str, bytes]:
    """Every file under `path` (or `path` itself) by relative name, with its bytes."""
    if path.is_file():
        return {".": path.read_bytes()}
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def refused(argv: list[str], capsys) -> str:
    """Run the CLI; assert exit status 2 and one line `error: …`; return that line."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err, err
    return err


def leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.rglob("*") if ".tmp-" in p.name or ".old-" in p.name)


def victims(stage: str) -> list[tuple[str, str, str]]:
    """(case, --out, what must stay intact) for one stage; paths as `world` attribute names,
    "name/sub" meaning a folder inside `name`."""
    cases = []
    for name in INPUTS[stage]:
        cases.append(("is the input", name, name))
        if name != "csv":  # the raw input is a file: nothing lies inside it
            cases.append(("lies inside the input", f"{name}/sub", name))
    other = OTHER_KIND[stage]
    cases += [("contains the input", "root", "root"), ("artifact cannot replace it", other, other),
              ("not a specrec artifact", "mine", "mine"), ("is a file", "note", "note"),
              ("lies inside the", f"{other}/x", other)]
    return cases


def resolve(w: SimpleNamespace, name: str) -> Path:
    head, _, tail = name.partition("/")
    return getattr(w, head) / tail if tail else getattr(w, head)


CASES = [(stage, *case) for stage in STAGES for case in victims(stage)]


@pytest.mark.parametrize("stage,words,out,keep", CASES,
                         ids=[f"{s}:{o}" for s, _, o, _ in CASES])
def test_every_victim_is_refused_and_untouched(stage, words, out, keep, world, capsys):
    before = snapshot(resolve(world, keep))
    error = refused(command(stage, world, resolve(world, out)), capsys)
    assert words in error, error
    assert snapshot(resolve(world, keep)) == before, f"{stage} --out {out} modified {keep}"
    assert leftovers(world.root) == []


def test_the_commands_of_the_bug_report_keep_every_byte(world, capsys):
    w = world
    for argv, victim in [
        (["train", "--dataset", str(w.data), *TINY_TRAIN, "--out", str(w.data)], w.data),
        (["transform", "pca", "--embeddings", str(w.emb), "--dim", "4", "--out", str(w.emb)], w.emb),
        (["transform", "pca", "--embeddings", str(w.emb), "--dim", "4", "--out", str(w.mine)],
         w.mine),
        (["train", "--dataset", str(w.data), *TINY_TRAIN, "--out", str(w.emb)], w.emb),
        (["transform", "ace", "--embeddings", str(w.emb), "--dim", "4", "--lambda", "1,10",
          "--out", str(w.emb)], w.emb),
    ]:
        before = snapshot(victim)
        refused(argv, capsys)
        assert snapshot(victim) == before


def test_same_kind_is_skipped_when_current_and_replaced_when_stale_or_forced(world, tmp_path):
    out = tmp_path / "pca"
    first = transform(method="pca", embeddings=world.emb, out=out, dim=4, log=lambda m: None)
    said: list[str] = []
    again = transform(method="pca", embeddings=world.emb, out=out, dim=4, log=said.append)
    assert again.fingerprint == first.fingerprint and "up to date" in said[-1]
    stale = transform(method="pca", embeddings=world.emb, out=out, dim=3, log=lambda m: None)
    assert stale.fingerprint != first.fingerprint and stale.config["dim"] == 3
    forced = transform(method="pca", embeddings=world.emb, out=out, dim=3, force=True,
                       log=lambda m: None)
    assert forced.created_utc and forced.fingerprint == stale.fingerprint
    assert leftovers(tmp_path) == [] and sorted(p.name for p in tmp_path.iterdir()) == [
        ".pca.lock", "pca"]


def test_an_empty_folder_is_a_fine_out(world, tmp_path):
    out = tmp_path / "empty"
    out.mkdir()
    meta = transform(method="pca", embeddings=world.emb, out=out, dim=4, log=lambda m: None)
    assert meta.kind == "transform" and (out / "table.h5").is_file()


HOLDER = textwrap.dedent("""
    import sys
    from specrec.artifacts import output_lock
    with output_lock(sys.argv[1]):
        print("held", flush=True)
        sys.stdin.read()
""")


def test_a_second_writer_is_refused_and_names_the_first(world, tmp_path, capsys):
    out = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(out)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env={**os.environ})
    try:
        assert holder.stdout.readline().strip() == "held"
        error = refused(["train", "--dataset", str(world.data), *TINY_TRAIN, "--out", str(out)],
                        capsys)
        assert f"being written by pid {holder.pid}" in error and not out.exists()
    finally:
        holder.communicate("", timeout=30)
    assert holder.returncode == 0
    meta = train(dataset=world.data, out=out, device="cpu", log=lambda m: None,
                 config=TrainConfig(dim=4, max_len=5, epochs=1, backbone_options={
                     "n_layers": 1, "n_heads": 1, "inner_size": 8}))
    assert meta.kind == "run"  # the lock is free again once its holder is gone


def test_a_killed_writers_leftovers_are_cleared_and_nothing_else(world, tmp_path):
    out = tmp_path / "pca"
    for name in ("pca.tmp-4242", "pca.old-17"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "table.h5").write_bytes(b"half written")
    for name in ("pca.tmp-notapid", "pcax.tmp-1", "pca.backup"):
        (tmp_path / name).mkdir()
    transform(method="pca", embeddings=world.emb, out=out, dim=4, log=lambda m: None)
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == [
        "pca", "pca.backup", "pca.tmp-notapid", "pcax.tmp-1"]
