"""`specrec embed --from-file`: vectors made elsewhere imported bit for bit; bad files refused."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import polars as pl
import pytest

from specrec.artifacts import read_meta
from specrec.cli import main
from specrec.embed.embed import embed
from specrec.embed.imported import export_embeddings, import_embeddings
from specrec.embed.store import open_embeddings
from specrec.embed.vector_files import FileNames, write_vector_file
from specrec.errors import SpecrecError
from specrec.testing.synthetic import write_embeddings

IDS = [f"m{i}" for i in range(1, 8)]  # the items of conftest's tiny dataset, in index order
EXTRA = ["not-in-data-1", "not-in-data-2", "x"]
F32 = np.finfo(np.float32)
QUIET = lambda message: None  # noqa: E731


def awkward_rows(seed: int = 0) -> np.ndarray:
    """7 x 6 float32 rows over the whole float32 range, so any rounding on the way shows."""
    rng = np.random.default_rng(seed)
    rows = (rng.standard_normal((7, 6)) * 10.0 ** rng.integers(-30, 30, (7, 6))).astype(np.float32)
    rows[0, :4] = [-0.0, F32.smallest_subnormal, F32.max, -F32.tiny]
    rows[1, 0] = np.nextafter(np.float32(1), np.float32(2))  # 1 + 2^-23: lost by any float16 step
    return rows


def shuffled_with_extras(rows: np.ndarray, seed: int = 1) -> tuple[list[str], np.ndarray]:
    """The rows under their ids in a random order, with 3 rows of ids the dataset does not have."""
    rng = np.random.default_rng(seed)
    ids = IDS + EXTRA
    vectors = np.concatenate([rows, rng.standard_normal((3, rows.shape[1])).astype(np.float32)])
    order = rng.permutation(len(ids))
    return [ids[i] for i in order], vectors[order]


def cli(argv: list[str], capsys) -> str:
    main([str(a) for a in argv])
    return capsys.readouterr().out


def refused(argv: list[str], capsys, out: Path) -> str:
    """Run the CLI; assert exit 2, one line `error: …`, nothing at `out`; return that line."""
    with pytest.raises(SystemExit) as exit_info:
        main([str(a) for a in argv])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err, err
    assert not out.exists() and not list(out.parent.glob(f"{out.name}.tmp-*"))
    return err


def bits(array: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(array, dtype=np.float32).view(np.uint32)


FORMATS = [  # (file name, extra CLI arguments, how to write it)
    ("v.npy", [], {}),
    ("v.npy", ["--ids", "{dir}/order.txt"], {"ids_path": "order.txt"}),
    ("v.npz", [], {}),
    ("v.parquet", [], {}),
    ("v.parquet", ["--id-column", "asin", "--vector-column", "vec"],
     {"id_column": "asin", "vector_column": "vec"}),
    ("v.jsonl", [], {}),
    ("v.jsonl", ["--id-column", "id", "--vector-column", "v"],
     {"id_column": "id", "vector_column": "v"}),
]  # fmt: skip


@pytest.mark.parametrize(("name", "args", "names"), FORMATS,
                         ids=[f"{n}{'+' + a[0] if a else ''}" for n, a, _ in FORMATS])
def test_round_trip_is_bitwise_in_index_order(tmp_path, tiny_dataset, capsys, name, args, names):
    rows = awkward_rows()
    ids, vectors = shuffled_with_extras(rows)
    if "ids_path" in names:
        names = {"ids_path": tmp_path / names["ids_path"]}
    written = write_vector_file(tmp_path / name, ids, vectors, FileNames(**names))
    out = tmp_path / "emb"
    printed = cli(["embed", "--dataset", tiny_dataset, "--from-file", tmp_path / name,
                   "--out", out, *[a.format(dir=tmp_path) for a in args]], capsys)
    emb = open_embeddings(out)
    stored = emb.load()
    assert stored.shape == (8, 6) and (bits(stored[0]) == 0).all()
    assert (bits(stored[1:]) == bits(rows)).all()
    assert emb.item_ids() == IDS
    assert emb.attrs["encoder"] == "from-file" and emb.attrs["normalized"] is False
    config, stats = emb.meta.config, emb.meta.stats
    assert config["encoder"] == "from-file" and config["format"] == name.split(".")[1]
    assert config["source"]["path"] == str((tmp_path / name).resolve())
    assert config["source"]["size"] == (tmp_path / name).stat().st_size
    assert config["source"]["sha256"].startswith("sha256:") and config["normalize"] is False
    assert (config["ids_file"] is not None) == name.endswith(".npy") == (len(written) == 2)
    counts = (stats["items"], stats["dim"], stats["file_rows"], stats["ignored_rows"])
    assert counts == (7, 6, 10, 3)
    assert "ignored" in printed and " 10 " in printed and " 3 " in printed
    assert emb.meta.items_fingerprint == read_meta(tiny_dataset).items_fingerprint


def test_a_fixed_size_list_column_and_integer_ids(tmp_path, dataset_factory, capsys):
    dataset = dataset_factory(tmp_path / "d", item_ids=[str(i) for i in range(10, 17)])
    rows = awkward_rows(seed=3)
    pl.DataFrame({"item_id": np.arange(16, 9, -1), "embedding": rows[::-1]}).write_parquet(
        tmp_path / "v.parquet")  # ids as int64, vectors as Array(Float32, 6), reversed
    cli(["embed", "--dataset", dataset, "--from-file", tmp_path / "v.parquet",
         "--out", tmp_path / "emb"], capsys)
    assert (bits(open_embeddings(tmp_path / "emb").load()[1:]) == bits(rows)).all()


def test_float16_storage_rounds_once_from_the_file(tmp_path, tiny_dataset, capsys):
    rows = np.random.default_rng(4).standard_normal((7, 5)).astype(np.float32)
    write_vector_file(tmp_path / "v.npz", IDS, rows)
    cli(["embed", "--dataset", tiny_dataset, "--from-file", tmp_path / "v.npz", "--dtype",
         "float16", "--out", tmp_path / "emb"], capsys)
    with h5py.File(tmp_path / "emb" / "embeddings.h5") as f:
        assert f["embeddings"].dtype == np.float16
        stored = f["embeddings"][1:]
    assert (stored.view(np.uint16) == rows.astype(np.float16).view(np.uint16)).all()


def test_normalize_divides_by_the_l2_norm_only_when_asked(tmp_path, tiny_dataset, capsys):
    rows = np.random.default_rng(5).standard_normal((7, 16)) * 1e3
    write_vector_file(tmp_path / "v.jsonl", IDS, rows)  # float64 in the file
    cli(["embed", "--dataset", tiny_dataset, "--from-file", tmp_path / "v.jsonl", "--normalize",
         "--out", tmp_path / "emb"], capsys)
    emb = open_embeddings(tmp_path / "emb")
    got = emb.load(np.float64)[1:]
    expected = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    # unit vectors computed in float64 (relative error ~16 * 2^-53), then rounded once to
    # float32: each value within 2^-24 of its own size, plus the float64 part
    assert (np.abs(got - expected) <= (2.0**-24 + 1e-13) * np.abs(expected)).all()
    assert emb.attrs["normalized"] is True and emb.meta.config["normalize"] is True
    cli(["embed", "--dataset", tiny_dataset, "--from-file", tmp_path / "v.jsonl",
         "--no-normalize", "--out", tmp_path / "raw"], capsys)
    assert (bits(open_embeddings(tmp_path / "raw").load()[1:]) == bits(rows)).all()


def test_transform_pca_accepts_the_import(tmp_path, tiny_dataset, capsys):
    rows = np.random.default_rng(6).standard_normal((7, 8)).astype(np.float32)
    ids, vectors = shuffled_with_extras(rows)
    write_vector_file(tmp_path / "v.parquet", ids, vectors)
    cli(["embed", "--dataset", tiny_dataset, "--from-file", tmp_path / "v.parquet",
         "--out", tmp_path / "emb"], capsys)
    cli(["transform", "pca", "--embeddings", tmp_path / "emb", "--dim", "3", "--dataset",
         tiny_dataset, "--out", tmp_path / "table"], capsys)
    meta = read_meta(tmp_path / "table", kind="transform")
    assert meta.items_fingerprint == read_meta(tiny_dataset).items_fingerprint
    with h5py.File(tmp_path / "table" / "table.h5") as f:
        assert f["item_table"].shape == (8, 3)


@pytest.mark.slow
def test_layout_equals_what_embed_writes(tmp_path, tiny_dataset):
    """MiniLM's artifact, exported and imported: same datasets, dtypes, chunks, attrs, rows."""
    embed(dataset=tiny_dataset, encoder="minilm", out=tmp_path / "minilm", device="cpu")
    ids, vectors = shuffled_with_extras(open_embeddings(tmp_path / "minilm").load()[1:])
    write_vector_file(tmp_path / "v.jsonl", ids, vectors)
    import_embeddings(dataset=tiny_dataset, source=tmp_path / "v.jsonl", out=tmp_path / "imp",
                      log=QUIET)
    with h5py.File(tmp_path / "minilm/embeddings.h5") as a, \
            h5py.File(tmp_path / "imp/embeddings.h5") as b:
        assert set(a) == set(b) == {"embeddings", "item_id"}
        for name in ("embeddings", "item_id"):
            assert (a[name].shape, a[name].dtype, a[name].chunks) == (
                b[name].shape, b[name].dtype, b[name].chunks)
        assert (a["embeddings"][...].view(np.uint32) == b["embeddings"][...].view(np.uint32)).all()
        assert list(a["item_id"].asstr()) == list(b["item_id"].asstr())
        assert set(a.attrs) == set(b.attrs)


def test_an_unchanged_file_skips_and_a_changed_one_rebuilds(tmp_path, tiny_dataset, capsys):
    rows = awkward_rows()
    write_vector_file(tmp_path / "v.npy", IDS, rows)
    out, logged = tmp_path / "emb", []
    first = import_embeddings(dataset=tiny_dataset, source=tmp_path / "v.npy", out=out,
                              log=logged.append)
    again = import_embeddings(dataset=tiny_dataset, source=tmp_path / "v.npy", out=out,
                              log=logged.append)
    assert again.fingerprint == first.fingerprint and "up to date" in logged[-1]
    rows[3, 2] = np.nextafter(rows[3, 2], np.float32(np.inf))  # one value, one ulp
    np.save(tmp_path / "v.npy", rows)
    changed = import_embeddings(dataset=tiny_dataset, source=tmp_path / "v.npy", out=out, log=QUIET)
    assert changed.fingerprint != first.fingerprint
    assert changed.config["source"]["sha256"] != first.config["source"]["sha256"]
    assert (bits(open_embeddings(out).load()[1:]) == bits(rows)).all()
    swapped = [IDS[1], IDS[0], *IDS[2:]]  # the same .npy; only its ids file changes
    (tmp_path / "v.ids.txt").write_text("".join(item_id + "\n" for item_id in swapped))
    moved = import_embeddings(dataset=tiny_dataset, source=tmp_path / "v.npy", out=out, log=QUIET)
    assert moved.fingerprint != changed.fingerprint
    assert (bits(open_embeddings(out).load()[1:]) == bits(rows[[1, 0, 2, 3, 4, 5, 6]])).all()


@pytest.mark.parametrize("target", ["file", "ids", "folder", "dataset"])
def test_out_never_replaces_an_input(tmp_path, tiny_dataset, capsys, target):
    folder = tmp_path / "vectors"
    folder.mkdir()
    write_vector_file(folder / "v.npy", IDS, awkward_rows())
    out = {"file": folder / "v.npy", "ids": folder / "v.ids.txt", "folder": folder,
           "dataset": tiny_dataset}[target]
    before = {p: p.read_bytes() for p in [*folder.iterdir(), *tiny_dataset.iterdir()]}
    with pytest.raises(SystemExit) as exit_info:
        main(["embed", "--dataset", str(tiny_dataset), "--from-file", str(folder / "v.npy"),
              "--out", str(out)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    relation = "contains" if target == "folder" else "is"
    assert f"--out '{out}' {relation} the input" in err and "\n" not in err
    assert {p: p.read_bytes() for p in before} == before


def test_export_writes_what_import_reads_and_never_replaces_a_file(tmp_path, tiny_dataset):
    rows = awkward_rows()
    write_embeddings(tmp_path / "source", rows, IDS)
    assert export_embeddings(tmp_path / "source", tmp_path / "v.npy") == [
        tmp_path / "v.npy", tmp_path / "v.ids.txt"]
    import_embeddings(dataset=tiny_dataset, source=tmp_path / "v.npy", out=tmp_path / "emb",
                      log=QUIET)
    assert (bits(open_embeddings(tmp_path / "emb").load()[1:]) == bits(rows)).all()
    with pytest.raises(SpecrecError, match="already exists; choose a new file"):
        export_embeddings(tmp_path / "source", tmp_path / "v.npy")


def _jsonl(path: Path, lines: list[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines))


def _record(item_id: object, vector: object) -> str:
    return json.dumps({"item_id": item_id, "embedding": vector})


def _good_lines(dim: int = 4) -> list[str]:
    return [_record(i, [float(k) + j for j in range(dim)]) for k, i in enumerate(IDS, start=1)]


def _write_bad(case: str, d: Path) -> tuple[str, list[str]]:
    """Write the bad file of `case` under `d`; return its name and extra CLI arguments."""
    lines = _good_lines()
    ok = np.arange(28, dtype=np.float32).reshape(7, 4) + 1
    if case == "missing item":
        _jsonl(d / "v.jsonl", lines[:2] + lines[3:] + [_record("zz", [1, 2, 3, 4])])
    elif case == "duplicate id":
        _jsonl(d / "v.jsonl", lines + [_record("m2", [1, 2, 3, 4])])
    elif case == "duplicate id parquet":
        pl.DataFrame({"item_id": IDS + ["m4"], "embedding": np.vstack([ok, ok[:1]])}).write_parquet(
            d / "v.parquet")
    elif case == "ragged line":
        _jsonl(d / "v.jsonl", lines[:3] + [_record("m4", [1, 2, 3])] + lines[4:])
    elif case == "ragged row":
        vectors = [list(map(float, row)) for row in ok]
        vectors[2] = vectors[2][:3]
        pl.DataFrame({"item_id": IDS, "embedding": vectors}).write_parquet(d / "v.parquet")
    elif case == "nan":
        nan = '{"item_id": "m3", "embedding": [1, NaN, 3, 4]}'  # Python's json reads NaN
        _jsonl(d / "v.jsonl", lines[:2] + [nan] + lines[3:])
    elif case == "inf in an ignored row":
        _jsonl(d / "v.jsonl", lines + ['{"item_id": "other", "embedding": [1, 2, Infinity, 4]}'])
    elif case == "inf npy":
        ok[2, 1] = np.inf
        write_vector_file(d / "v.npy", IDS, ok)
    elif case == "string in a vector":
        _jsonl(d / "v.jsonl", lines[:4] + [_record("m5", [1, "2", 3, 4])] + lines[5:])
    elif case == "strings parquet":
        pl.DataFrame({"item_id": IDS, "embedding": [["a"]] * 7}).write_parquet(d / "v.parquet")
    elif case == "strings npy":
        np.save(d / "v.npy", np.array([["a", "b"]] * 7))
        (d / "v.ids.txt").write_text("\n".join(IDS))
    elif case == "empty file":
        (d / "v.jsonl").write_bytes(b"")
    elif case == "blank lines only":
        (d / "v.jsonl").write_text("\n  \n\n")
    elif case == "no rows parquet":
        pl.DataFrame({"item_id": pl.Series([], dtype=pl.String),
                      "embedding": pl.Series([], dtype=pl.List(pl.Float32))}).write_parquet(
            d / "v.parquet")
    elif case == "bad json":
        _jsonl(d / "v.jsonl", lines[:1] + ['{"item_id": "m2", "embedding": [1, 2'] + lines[2:])
    elif case == "npy without ids":
        np.save(d / "v.npy", ok)
    elif case == "ids count":
        write_vector_file(d / "v.npy", IDS, ok)
        (d / "v.ids.txt").write_text("\n".join(IDS[:6]) + "\n")
    elif case == "empty id line":
        write_vector_file(d / "v.npy", IDS, ok)
        (d / "v.ids.txt").write_text("m1\nm2\n\nm4\nm5\nm6\nm7\n")
    elif case == "unknown suffix":
        (d / "v.csv").write_text("item_id,embedding\n")
        return "v.csv", []
    elif case == "no such column":
        write_vector_file(d / "v.parquet", IDS, ok)
        return "v.parquet", ["--vector-column", "vec"]
    elif case == "beyond float32":
        _jsonl(d / "v.jsonl", lines[:5] + [_record("m6", [1, 2e39, 3, 4])] + lines[6:])
    elif case == "beyond float16":
        write_vector_file(d / "v.npz", IDS, ok * 1e4)
        return "v.npz", ["--dtype", "float16"]
    elif case == "zero vector normalized":
        write_vector_file(d / "v.npz", IDS, np.vstack([ok[:6], np.zeros((1, 4), np.float32)]))
        return "v.npz", ["--normalize"]
    elif case == "--ids with parquet":
        write_vector_file(d / "v.parquet", IDS, ok)
        return "v.parquet", ["--ids", d / "ids.txt"]
    elif case == "--id-column with npz":
        write_vector_file(d / "v.npz", IDS, ok)
        return "v.npz", ["--id-column", "id"]
    elif case == "does not exist":
        return "nothing.jsonl", []
    elif case == "--ids does not exist":
        write_vector_file(d / "v.npy", IDS, ok)
        return "v.npy", ["--ids", "missing.txt"]
    elif case == "--pooling with --from-file":
        write_vector_file(d / "v.npz", IDS, ok)
        return "v.npz", ["--pooling", "mean"]
    elif case == "--encoder and --from-file":
        write_vector_file(d / "v.npz", IDS, ok)
        return "v.npz", ["--encoder", "minilm"]
    return next(p.name for p in d.iterdir() if not p.name.endswith(".txt")), []


BAD = {  # case -> what the error line must say
    "missing item": "lacks 1 of the dataset's 7 items (ids 'm3'); add their vectors",
    "duplicate id": "id 'm2' appears twice (line 2 and line 8); keep one vector per item",
    "duplicate id parquet": "id 'm4' appears twice (row 3 (0-based) and row 7 (0-based))",
    "ragged line": "line 4: the vector has 3 values but line 1 has 4",
    "ragged row": "row 2 (0-based) has 3 values but row 0 has 4",
    "nan": "the vector of 'm3' (line 3) holds NaN or Inf",
    "inf in an ignored row": "the vector of 'other' (line 8) holds NaN or Inf",
    "inf npy": "the vector of 'm3' (row 2 (0-based), line 3 of 'v.ids.txt') holds NaN or Inf",
    "string in a vector": "line 5: 'embedding' must be a non-empty list of numbers",
    "strings parquet": "column 'embedding' is List(String), not a list of numbers",
    "strings npy": "the array is <U1 (7, 2); it must be numbers",
    "empty file": "is empty (0 bytes)",
    "blank lines only": "holds no vectors",
    "no rows parquet": "holds no vectors",
    "bad json": "line 2 is not valid JSON",
    "npy without ids": "needs its item ids: pass --ids FILE.txt",
    "ids count": "has 6 ids but",
    "empty id line": "line 3 is empty; write one item id per line",
    "unknown suffix": "cannot tell the format of",
    "no such column": "has no column(s) ['vec']",
    "beyond float32": "the vector of 'm6' (line 6) has values beyond float32's range",
    "beyond float16": "the vector of 'm2' (row 1 (0-based)) has values beyond float16's range",
    "zero vector normalized": "the vector of 'm7' is all zeros",
    "--ids with parquet": "--ids is for .npy files only",
    "--id-column with npz": "--id-column/--vector-column are for .parquet and .jsonl files",
    "does not exist": "nothing.jsonl' does not exist (or is not a file)",
    "--ids does not exist": "ids file 'missing.txt' does not exist (or is not a file); check --ids",
    "--pooling with --from-file": "--pooling is for --encoder",
    "--encoder and --from-file": "pass exactly one of --encoder ALIAS",
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_file_is_one_error_line_and_no_artifact(tmp_path, tiny_dataset, capsys, case):
    (tmp_path / "files").mkdir()
    name, extra = _write_bad(case, tmp_path / "files")
    out = tmp_path / "emb"
    err = refused(["embed", "--dataset", tiny_dataset, "--from-file", tmp_path / "files" / name,
                   "--out", out, *extra], capsys, out)
    assert BAD[case] in err, err


@pytest.mark.parametrize(("args", "message"), [
    ([], "pass exactly one of --encoder ALIAS"),
    (["--encoder", "minilm", "--ids", "x.txt"], "--ids is for --from-file FILE"),
    (["--encoder", "minilm", "--vector-column", "v"], "--vector-column is for --from-file FILE"),
])
def test_encoder_or_file_is_one_choice(tmp_path, tiny_dataset, capsys, args, message):
    out = tmp_path / "emb"
    err = refused(["embed", "--dataset", tiny_dataset, "--out", out, *args], capsys, out)
    assert message in err, err
