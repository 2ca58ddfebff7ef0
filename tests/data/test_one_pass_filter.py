"""LLMEmb's one-pass count filter and dropping items without text, checked independently."""

from __future__ import annotations

from collections import Counter

import numpy as np
import polars as pl
import pytest

from raw_samples import SAMPLE, build_sample, write_text
from specrec.data.filtering import FILTERS, FilterOptions, k_core, keep_items_with_text
from specrec.data.preprocess import preprocess
from specrec.data.text import TextRecipe
from specrec.errors import SpecrecError

CSV_COLUMNS = {"user": "u", "item": "i", "time": "t"}
# the config keys of a dataset made with the default options: new options must not add any,
# or every dataset made before them would get a new fingerprint
DEFAULT_CONFIG_KEYS = {"source", "paths", "raw_files", "columns", "min_user", "min_item",
                       "rating_threshold", "text_template", "protocol", "seed", "valid_cutoff",
                       "test_cutoff"}


def toy_events(seed: int = 1, n: int = 80) -> list[tuple[str, str]]:
    """(user, item) pairs with skewed counts, so thresholds of 3 cut deep."""
    rng = np.random.default_rng(seed)
    users = rng.zipf(1.6, size=n) % 25
    items = rng.zipf(1.4, size=n) % 30
    return [(f"u{u}", f"i{i}") for u, i in zip(users, items, strict=True)]


def one_pass_by_hand(events, min_user, min_item, min_user_after):
    """filter_common on counts of the raw events, then filter_minmum on what is left."""
    user_count = Counter(u for u, _ in events)
    item_count = Counter(i for _, i in events)
    first = [(u, i) for u, i in events if user_count[u] >= min_user and item_count[i] >= min_item]
    left = Counter(u for u, _ in first)
    return [(u, i) for u, i in first if left[u] >= min_user_after]


def as_frame(events) -> pl.DataFrame:
    return pl.DataFrame(events, schema=["user_id", "item_id"], orient="row")


def test_one_pass_matches_the_hand_count_and_differs_from_the_k_core():
    events = toy_events()
    frame = as_frame(events)
    result = FILTERS.get("llmemb")(frame, FilterOptions(3, 3, 3))
    expected = one_pass_by_hand(events, 3, 3, 3)
    assert result.interactions.rows() == expected  # file order kept
    first_pass = len(one_pass_by_hand(events, 3, 3, 0))
    assert result.info == {"removed_by_counts": len(events) - first_pass,
                           "removed_by_min_user_after": first_pass - len(expected)}
    assert result.info["removed_by_min_user_after"] > 0  # the second step does remove users
    iterative = k_core(frame, min_user=3, min_item=3).interactions.rows()
    assert len(iterative) < len(expected) and set(iterative) < set(expected)
    item_left = Counter(i for _, i in expected)
    assert min(item_left.values()) < 3  # not iterated: some items end below min_item


def test_one_pass_with_the_sample_keeps_a_user_the_k_core_removes():
    frame = pl.DataFrame([(u, i) for u, i, _, _ in SAMPLE], schema=["user_id", "item_id"],
                         orient="row")
    kept = FILTERS.get("one-pass")(frame, FilterOptions(2, 2, 2)).interactions
    assert kept.rows() == [(u, i) for u, i, _, _ in SAMPLE[:8]]  # only u4's event goes
    assert k_core(frame, min_user=2, min_item=2).interactions.height == 6


def test_preprocess_records_the_filter(tmp_path):
    events = toy_events()
    path = write_text(tmp_path / "e.csv", "u,i,t\n" + "".join(
        f"{u},{i},{1000 + n}\n" for n, (u, i) in enumerate(events)))
    meta = preprocess(source="csv", paths=[path], out=tmp_path / "one", columns=CSV_COLUMNS,
                      min_user=3, min_item=3, filtering="llmemb")
    expected = one_pass_by_hand(events, 3, 3, 3)
    assert meta.config["filter"] == "one-pass" and meta.config["min_user_after"] == 3
    assert meta.stats["interactions"] == len(expected)
    assert meta.stats["users"] == len({u for u, _ in expected})
    assert meta.stats["items"] == len({i for _, i in expected})
    assert "filtering_passes" not in meta.stats and meta.stats["removed_by_counts"] > 0
    stricter = preprocess(source="csv", paths=[path], out=tmp_path / "five", columns=CSV_COLUMNS,
                          min_user=3, min_item=3, filtering="one-pass", min_user_after=5)
    assert stricter.config["min_user_after"] == 5
    assert stricter.stats["interactions"] == len(one_pass_by_hand(events, 3, 3, 5))
    default = preprocess(source="csv", paths=[path], out=tmp_path / "core", columns=CSV_COLUMNS,
                         min_user=3, min_item=3)
    assert set(default.config) == DEFAULT_CONFIG_KEYS
    assert default.stats["filtering_passes"] >= 2


@pytest.mark.parametrize(
    "options, message",
    [
        ({"filtering": "kcore"}, "unknown filter 'kcore'; choose one of: k-core, one-pass"),
        ({"min_user_after": 3}, "--min-user-after is the second step of --filter one-pass"),
        ({"filtering": "one-pass", "min_user_after": -1}, "--min-user-after must be a whole"),
    ],
)
def test_bad_filter_options_are_refused(tmp_path, options, message):
    with pytest.raises(SpecrecError, match=message):
        preprocess(source="ml-100k", paths=[], out=tmp_path / "out", **options)
    assert not (tmp_path / "out").exists()


def test_items_without_text_are_those_with_no_present_field():
    inter = pl.DataFrame({"user_id": ["u1", "u1", "u2", "u2", "u3"],
                          "item_id": ["a", "b", "c", "a", "d"]})
    # a: a title; b: only blank/missing values; c: only a field the template does not read;
    # d: no metadata row at all
    metadata = pl.DataFrame({"item_id": ["a", "b", "c"], "title": ["A", " ", None],
                             "year": ["1999", "nan", None], "color": [None, None, "red"]})
    kept, counts = keep_items_with_text(inter, metadata, TextRecipe("{title}[ ({year})]"))
    assert kept["item_id"].to_list() == ["a", "a"]
    assert counts == {"dropped_items_without_text": 3, "dropped_interactions_without_text": 3}
    prompt = TextRecipe("llmemb", "item")  # reads every field, so c has text
    assert keep_items_with_text(inter, metadata, prompt)[0]["item_id"].to_list() == ["a", "c", "a"]


def test_preprocess_drops_items_without_text_before_the_filter(tmp_path):
    events = write_text(tmp_path / "e.csv", "u,i,r,t\n" + "".join(
        f"{u},{i},{r},{t}\n" for u, i, r, t in SAMPLE))
    items = write_text(tmp_path / "items.csv", "i,title\ni1,Alpha\ni2,\ni3,Gamma\ni4,Delta\n")
    meta, dataset = build_sample("csv", [events, items], tmp_path / "out", columns=CSV_COLUMNS,
                                 text_template="{title}", drop_items_without_text=True)
    # i2 (blank title) goes first: 7 events; the 2-core then also removes u4, then i4 and u3
    assert meta.stats["dropped_items_without_text"] == 1
    assert meta.stats["dropped_interactions_without_text"] == 2
    assert meta.config["drop_items_without_text"] is True
    assert dataset.item_ids[1:] == ["i3", "i1"] and meta.stats["text_coverage"] == 1.0
    assert meta.stats["interactions"] == 4 and meta.stats["removed_per_pass"] == [1, 1, 1]
    with pytest.raises(SpecrecError, match="--drop-items-without-text needs item text"):
        preprocess(source="csv", paths=[events], out=tmp_path / "bare", columns=CSV_COLUMNS,
                   drop_items_without_text=True)


def test_the_cli_takes_the_llmemb_recipe(tmp_path, capsys):
    from typer.testing import CliRunner

    from specrec.artifacts import read_meta
    from specrec.cli import app, main

    out = tmp_path / "ml"
    result = CliRunner().invoke(app, [
        "preprocess", "ml-100k", "--out", str(out), "--filter", "llmemb", "--min-user", "3",
        "--min-item", "3", "--text-template", "llmemb", "--prompt-noun", "film",
        "--drop-items-without-text",
    ])
    assert result.exit_code == 0, result.output
    assert "removed_by_counts" in result.stdout and "dropped_items_without_text" in result.stdout
    config = read_meta(out, "dataset").config
    assert (config["filter"], config["min_user_after"], config["prompt_noun"]) == ("one-pass", 3,
                                                                                   "film")
    with pytest.raises(SystemExit) as refused:
        main(["preprocess", "ml-100k", "--out", str(tmp_path / "no"), "--min-user-after", "3"])
    assert refused.value.code == 2 and not (tmp_path / "no").exists()
    assert "error: --min-user-after is the second step" in capsys.readouterr().err
