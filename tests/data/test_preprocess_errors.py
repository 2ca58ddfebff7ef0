"""Bad input gives a one-line SpecrecError and no artifact; fingerprints skip or redo the work."""

from __future__ import annotations

import json

import pytest

from raw_samples import SAMPLE, build_sample, write_text
from specrec.artifacts import read_meta
from specrec.data.preprocess import preprocess
from specrec.errors import SpecrecError

CSV_COLUMNS = {"user": "u", "item": "i", "time": "t"}


def sample_csv(path):
    return write_text(path, "u,i,r,t\n" + "".join(f"{u},{i},{r},{t}\n" for u, i, r, t in SAMPLE))


def expect_error(tmp_path, message, **kwargs):
    """Run preprocess, expect a one-line error matching `message`, and no artifact left behind."""
    out = tmp_path / "out"
    kwargs = {"paths": [], "min_user": 2, "min_item": 2, **kwargs}
    with pytest.raises(SpecrecError, match=message) as caught:
        preprocess(out=out, **kwargs)
    assert "\n" not in str(caught.value)
    assert not out.exists()
    assert not [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name or ".old-" in p.name]


def test_unknown_source(tmp_path):
    expect_error(tmp_path, "unknown source 'imdb'; choose one of: amazon2014", source="imdb")


def test_bundled_source_takes_no_paths(tmp_path):
    expect_error(tmp_path, "takes no paths", source="ml-100k", paths=[tmp_path])


def test_missing_path(tmp_path):
    expect_error(
        tmp_path, "does not exist", source="csv", paths=[tmp_path / "nope.csv"], columns=CSV_COLUMNS
    )
    expect_error(tmp_path, "does not exist", source="yelp", paths=[tmp_path / "nope"])


def test_folder_without_movielens_files(tmp_path):
    write_text(tmp_path / "ml" / "readme.txt", "hi")
    expect_error(
        tmp_path, "holds no MovieLens rating file", source="movielens", paths=[tmp_path / "ml"]
    )


def test_recbole_bad_header_and_two_inter_files(tmp_path):
    write_text(tmp_path / "a" / "a.inter", "user_id\titem_id:token\ttimestamp:float\n1\t2\t3\n")
    expect_error(tmp_path, "is not 'name:type'", source="recbole", paths=[tmp_path / "a"])
    write_text(tmp_path / "a" / "b.inter", "x:token\n")
    expect_error(tmp_path, "exactly one .inter file", source="recbole", paths=[tmp_path / "a"])


def test_unreadable_files(tmp_path):
    write_text(tmp_path / "ml" / "u.data", "1\t2\t3\n4\t5\t6\n")
    expect_error(tmp_path, "has 3 columns", source="movielens", paths=[tmp_path / "ml"])
    ragged = write_text(tmp_path / "bad.csv", "u,i,t\n1,2,3\n4,5,6,7,8\n")
    expect_error(tmp_path, "cannot read", source="csv", paths=[ragged], columns=CSV_COLUMNS)
    reviews = write_text(
        tmp_path / "reviews.json",
        json.dumps({"reviewerID": "u", "asin": "a", "overall": 5.0, "unixReviewTime": 1})
        + "\n{broken\n",
    )
    expect_error(
        tmp_path, "line 2 is neither JSON nor a dict literal", source="amazon2014", paths=[reviews]
    )


def test_file_of_the_wrong_kind(tmp_path):
    stray = write_text(tmp_path / "notes.json", "hello\n")
    expect_error(
        tmp_path,
        "is not a amazon2023 interactions or items file",
        source="amazon2023",
        paths=[stray],
    )
    meta_only = write_text(tmp_path / "meta.jsonl", json.dumps({"parent_asin": "x"}) + "\n")
    expect_error(
        tmp_path, "no amazon2023 interactions file", source="amazon2023", paths=[meta_only]
    )


def test_missing_and_unmapped_columns(tmp_path):
    events = sample_csv(tmp_path / "e.csv")
    expect_error(
        tmp_path,
        "lacks column 'uid' \\(the user column\\).*--column user=NAME",
        source="csv",
        paths=[events],
        columns={**CSV_COLUMNS, "user": "uid"},
    )
    expect_error(
        tmp_path,
        "must be named; pass --column time=NAME",
        source="csv",
        paths=[events],
        columns={"user": "u", "item": "i"},
    )
    expect_error(
        tmp_path,
        "unknown column role",
        source="csv",
        paths=[events],
        columns={**CSV_COLUMNS, "colour": "c"},
    )
    expect_error(
        tmp_path,
        "takes no --column mapping",
        source="movielens",
        paths=[tmp_path],
        columns={"user": "u"},
    )
    items = write_text(tmp_path / "items.csv", "sku,title\ni1,A\n")
    expect_error(
        tmp_path,
        "lacks column 'i' \\(the item_key column\\)",
        source="csv",
        paths=[events, items],
        columns=CSV_COLUMNS,
        text_template="{title}",
    )


def test_bad_values(tmp_path):
    times = write_text(tmp_path / "t.csv", "u,i,t\na,b,yesterday\n")
    expect_error(
        tmp_path, "time value 'yesterday'", source="csv", paths=[times], columns=CSV_COLUMNS
    )
    ratings = write_text(tmp_path / "r.csv", "u,i,t,r\na,b,1,five\n")
    expect_error(
        tmp_path,
        "rating value 'five' is not a number",
        source="csv",
        paths=[ratings],
        columns={**CSV_COLUMNS, "rating": "r"},
    )


@pytest.mark.parametrize(
    "options, message",
    [
        ({"min_user": -1}, "--min-user must be a whole number >= 0"),
        ({"min_item": -5}, "--min-item must be a whole number >= 0"),
        ({"protocol": "random"}, "unknown protocol 'random'"),
        ({"valid_cutoff": 0.5}, "applies only to --protocol temporal"),
        ({"protocol": "temporal", "valid_cutoff": 0.95, "test_cutoff": 0.2}, "valid cutoff"),
        ({"rating_threshold": float("nan")}, "finite number"),
        ({"text_template": "{title"}, "unclosed"),
        ({"text_template": "{colour}"}, "unknown column"),
    ],
)
def test_impossible_options(tmp_path, options, message):
    events = sample_csv(tmp_path / "e.csv")
    expect_error(tmp_path, message, source="csv", paths=[events], columns=CSV_COLUMNS, **options)


def test_threshold_without_ratings_and_nothing_left(tmp_path):
    events = sample_csv(tmp_path / "e.csv")
    expect_error(
        tmp_path,
        "no rating column",
        source="csv",
        paths=[events],
        columns=CSV_COLUMNS,
        rating_threshold=4.0,
    )
    expect_error(
        tmp_path,
        "no interactions left after filtering \\(9 raw\\)",
        source="csv",
        paths=[events],
        columns=CSV_COLUMNS,
        min_user=10,
    )


def test_out_must_not_be_something_else(tmp_path):
    events = sample_csv(tmp_path / "e.csv")
    args = {"source": "csv", "paths": [events], "columns": CSV_COLUMNS}
    (tmp_path / "file").write_text("x")
    with pytest.raises(SpecrecError, match="is a file"):
        preprocess(out=tmp_path / "file", **args)
    write_text(tmp_path / "docs" / "thesis.tex", "precious")
    with pytest.raises(SpecrecError, match="non-empty folder that is not a specrec artifact"):
        preprocess(out=tmp_path / "docs", **args)
    assert (tmp_path / "docs" / "thesis.tex").read_text() == "precious"
    write_text(
        tmp_path / "run" / "meta.json",
        json.dumps(
            {
                "kind": "run",
                "config": {},
                "inputs": {},
                "items_fingerprint": None,
                "fingerprint": "x",
            }
        ),
    )
    with pytest.raises(SpecrecError, match="holds a run artifact"):
        preprocess(out=tmp_path / "run", **args)


def test_same_inputs_skip_changed_inputs_redo(tmp_path, capsys):
    events = sample_csv(tmp_path / "e.csv")
    out = tmp_path / "out"
    first, _ = build_sample("csv", [events], out, columns=CSV_COLUMNS)
    (out / "marker").write_text("kept while up to date")
    again, _ = build_sample("csv", [events], out, columns=CSV_COLUMNS)
    assert again.fingerprint == first.fingerprint and (out / "marker").exists()
    assert "up to date" in " ".join(capsys.readouterr().err.split())
    forced, _ = build_sample("csv", [events], out, columns=CSV_COLUMNS, force=True)
    assert forced.fingerprint == first.fingerprint and not (out / "marker").exists()
    # same options, different file bytes: new fingerprint, new data
    with open(events, "a") as handle:
        handle.write("u1,i2,5.0,881250200\n")
    changed, dataset = build_sample("csv", [events], out, columns=CSV_COLUMNS)
    assert changed.fingerprint != first.fingerprint
    assert changed.stats["interactions"] == 7
    assert dataset.items[:4].tolist() == [3, 1, 2, 3]  # u1 now ends with i2 again
    assert (
        changed.config["raw_files"]["interactions"]["sha256"]
        != first.config["raw_files"]["interactions"]["sha256"]
    )
    other_option, _ = build_sample("csv", [events], out, columns=CSV_COLUMNS, min_item=1)
    assert other_option.fingerprint != changed.fingerprint


def test_failed_rebuild_keeps_the_old_artifact(tmp_path):
    events = sample_csv(tmp_path / "e.csv")
    out = tmp_path / "out"
    good, _ = build_sample("csv", [events], out, columns=CSV_COLUMNS)
    with pytest.raises(SpecrecError, match="no interactions left"):
        preprocess(source="csv", paths=[events], out=out, columns=CSV_COLUMNS, min_user=50)
    assert read_meta(out).fingerprint == good.fingerprint


def test_config_records_every_resolved_option(tmp_path):
    events = sample_csv(tmp_path / "e.csv")
    meta, _ = build_sample(
        "csv", [events], tmp_path / "out", columns=CSV_COLUMNS, protocol="temporal"
    )
    assert set(meta.config) == {
        "source",
        "paths",
        "raw_files",
        "columns",
        "min_user",
        "min_item",
        "rating_threshold",
        "text_template",
        "protocol",
        "seed",
        "valid_cutoff",
        "test_cutoff",
    }
    assert meta.config["columns"] == CSV_COLUMNS and meta.config["protocol"] == "temporal"
    # survivors' times are BASE + (50, 90, 95, 95, 100, 100): both quantiles land on BASE + 100
    assert meta.stats["valid_cutoff_s"] == meta.stats["test_cutoff_s"] == 881_250_100
    assert meta.stats["splits"] == {"train": 4, "valid": 0, "test": 1, "context": 1}


def test_corrupt_gzip_files(tmp_path):
    good = write_text(
        tmp_path / "g.jsonl.gz",
        "".join(
            json.dumps({"user_id": u, "parent_asin": i, "rating": r, "timestamp": t * 1000}) + "\n"
            for u, i, r, t in SAMPLE * 200
        ),
        gz=True,
    )
    truncated = tmp_path / "reviews.jsonl.gz"
    truncated.write_bytes(good.read_bytes()[:-40])
    expect_error(
        tmp_path, "cannot read the amazon2023 files", source="amazon2023", paths=[truncated]
    )
    events = write_text(tmp_path / "e.csv.gz", "u,i,t\n" + "a,b,1\n" * 500, gz=True)
    broken = tmp_path / "broken.csv.gz"
    broken.write_bytes(events.read_bytes()[:30])
    expect_error(tmp_path, "cannot read", source="csv", paths=[broken], columns=CSV_COLUMNS)
