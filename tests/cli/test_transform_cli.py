"""`specrec transform` on the command line: options -> one call, a before/after table, exit 2."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "transform"))
from transform_synthetic import anisotropic, item_ids, write_dataset, write_embeddings  # noqa: E402

from specrec.artifacts import read_meta  # noqa: E402
from specrec.cli import main  # noqa: E402
from specrec.transform.store import read_table  # noqa: E402


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    emb = write_embeddings(root / "emb", anisotropic(80, 16, seed=1))
    data = write_dataset(root / "data", item_ids(80))
    return emb, data


def _run(capsys, *argv):
    code = 0
    try:
        main(["transform", *map(str, argv)])
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_pca_writes_the_artifact_and_prints_before_after(artifacts, tmp_path, capsys):
    emb, data = artifacts
    code, out, err = _run(
        capsys, "pca", "--embeddings", emb, "--out", tmp_path / "t", "--dim", 5, "--dataset", data
    )
    assert code == 0, err
    assert "anisotropy before vs after (centred spectra)" in out
    assert "mean pairwise cosine" in out and "effective rank" in out
    table = read_table(tmp_path / "t")
    assert table.item_table.shape == (81, 5) and table.method == "pca"
    assert read_meta(tmp_path / "t").inputs["dataset"]["path"] == str(data)
    code, _, err = _run(
        capsys, "pca", "--embeddings", emb, "--out", tmp_path / "t", "--dim", 5, "--dataset", data
    )
    assert code == 0 and "skipping (--force to redo)" in err


def test_every_method_option_reaches_the_stage(artifacts, tmp_path, capsys):
    emb, data = artifacts
    code, _, err = _run(
        capsys,
        "alphafuse",
        "--embeddings",
        emb,
        "--out",
        tmp_path / "a",
        "--dim",
        8,
        "--null-dim",
        4,
        "--cover",
        "--id-init",
        "normal",
        "--scale",
        10,
    )
    assert code == 0, err
    params = read_table(tmp_path / "a").params
    assert (params["null_dim"], params["cover"], params["id_init"], params["scale"]) == (
        4,
        True,
        "normal",
        10.0,
    )
    code, _, err = _run(
        capsys,
        "whiten",
        "--embeddings",
        emb,
        "--out",
        tmp_path / "w",
        "--dim",
        4,
        "--features",
        "zca",
        "--eps",
        0.001,
    )
    assert code == 0, err
    assert read_table(tmp_path / "w").params["features"] == "zca"
    code, _, err = _run(
        capsys,
        "llminit",
        "--embeddings",
        emb,
        "--out",
        tmp_path / "l",
        "--dim",
        4,
        "--variant",
        "uni",
    )
    assert code == 0 and read_table(tmp_path / "l").params["dims"] == [0, 4, 8, 12]
    code, _, err = _run(
        capsys,
        "group-whiten",
        "--embeddings",
        emb,
        "--out",
        tmp_path / "g",
        "--dim",
        4,
        "--param",
        "groups=2",
        "--param",
        "eps=0.01",
    )
    assert code == 0, err
    assert (
        read_table(tmp_path / "g").params["groups"],
        read_table(tmp_path / "g").params["eps"],
    ) == (2, 0.01)


def test_ace_sweep_prints_one_column_per_lambda(artifacts, tmp_path, capsys):
    emb, _ = artifacts
    code, out, err = _run(
        capsys,
        "ace",
        "--embeddings",
        emb,
        "--out",
        tmp_path / "s",
        "--dim",
        4,
        "--lambda",
        "0,5,50",
        "--std",
        1.0,
        "--no-center",
    )
    assert code == 0, err
    assert "ace λ=0" in out and "ace λ=5" in out and "ace λ=50" in out
    assert "uncentred spectra" in out
    for value in (0, 5, 50):
        assert read_table(tmp_path / "s" / f"lambda-{value}").params["std"] == 1.0


@pytest.mark.parametrize(
    "argv,message",
    [
        (["svd"], "unknown transform 'svd'"),
        (
            ["pca", "--groups", "2"],
            "--groups does not apply to transform pca; it is taken by: group-whiten",
        ),
        (["ace", "--lambda", "-3"], "--lambda '-3' is invalid: must be >= 0"),
        (["ace", "--dim", "99"], "--dim 99 is impossible"),
        (["ace", "--dim", "4", "--target-erank", "2", "--lambda", "1"], "only with --lambda auto"),
        (["ace", "--std", "1", "--param", "std=2"], "option std is given twice"),
        (["pca", "--param", "solver"], "--param 'solver' is not KEY=VALUE"),
    ],
)
def test_bad_input_exits_2_with_one_line(artifacts, tmp_path, capsys, argv, message):
    emb, _ = artifacts
    code, _, err = _run(capsys, *argv[:1], "--embeddings", emb, "--out", tmp_path / "x", *argv[1:])
    assert code == 2
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "x").exists()
