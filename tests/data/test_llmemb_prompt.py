"""LLMEmb's attribute prompt (`--text-template llmemb`): the exact string, per-source fields."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from raw_samples import SAMPLE, build_sample, item_texts, write_text
from specrec.data.preprocess import preprocess
from specrec.data.sources._prompt import category_noun
from specrec.data.text import TextRecipe
from specrec.errors import SpecrecError

HEAD = "The {} has the following attributes: \n "


def test_the_prompt_of_a_hand_made_item():
    long_text = "A" * 98 + ";\nB tail"  # the cut keeps "A"*98 + ";\n", written ". "
    items = pl.DataFrame(
        {
            "item_idx": [1],
            "item_id": ["b1"],
            "title": ["  Rose; Oud\nOil "],
            "brand": [""],
            "imUrl": ["http://img/b1.jpg"],
            "categories": ["Beauty, Fragrance"],
            "price": [None],
            "description": [long_text],
            "size": ["nan"],
        }
    )
    recipe = TextRecipe("llmemb", "beauty item", ("related", "imUrl", "salesRank"))
    assert recipe.fields(items.columns) == ["title", "brand", "categories", "price",
                                            "description", "size"]
    assert recipe.render(items).to_list() == [
        "The beauty item has the following attributes: \n "
        "title is Rose. Oud Oil; categories is Beauty, Fragrance; description is "
        + "A" * 98 + ". "
    ]
    assert recipe.has_text(items).to_list() == [True]


def test_an_item_with_no_present_field_gets_no_text():
    items = pl.DataFrame({"item_id": ["a", "b"], "title": [None, "X"], "year": ["None", " "]})
    recipe = TextRecipe("llmemb", "movie")
    assert recipe.render(items).to_list() == ["", HEAD.format("movie") + "title is X"]
    assert recipe.has_text(items).to_list() == [False, True]
    template = TextRecipe("{title}[ ({year})]")
    assert template.has_text(items).to_list() == [False, True]


@pytest.mark.parametrize(
    "name, noun",
    [
        ("reviews_Beauty_5.json.gz", "beauty item"),
        ("reviews_Toys_and_Games.json", "toys and games item"),
        ("AMAZON_FASHION.json", "fashion item"),
        ("AMAZON_FASHION_5.json.gz", "fashion item"),
        ("All_Beauty.jsonl", "all beauty item"),
        ("reviews.json.gz", "item"),
    ],
)
def test_amazon_nouns_come_from_the_category_in_the_file_name(name, noun):
    assert category_noun(Path(name)) == noun


def amazon_reviews(path: Path) -> Path:
    return write_text(
        path,
        "".join(
            json.dumps({"reviewerID": u, "asin": i, "overall": r, "unixReviewTime": t}) + "\n"
            for u, i, r, t in SAMPLE
        ),
    )


def test_amazon2014_beauty_reads_every_field_and_drops_llmemb_keys(tmp_path):
    records = [
        {
            "asin": "i1",
            "description": "Soft; gentle\nsoap",
            "title": "Alpha",
            "imUrl": "http://img/1.jpg",
            "salesRank": {"Beauty": 12},
            "categories": [["Beauty", "Skin Care"], ["Beauty", "Face"]],
            "price": 12.99,
            "related": {"also_bought": ["i2"]},
        },
        {"asin": "i2", "title": "Beta", "brand": "Bolt", "categories": [["Beauty"]]},
        {"asin": "i3", "title": "Gamma", "description": "", "categories": []},
    ]
    meta = write_text(tmp_path / "meta_Beauty.json", "".join(repr(r) + "\n" for r in records))
    reviews = amazon_reviews(tmp_path / "reviews_Beauty_5.json")
    info, dataset = build_sample("amazon2014", [reviews, meta], tmp_path / "out",
                                 text_template="llmemb")
    head = HEAD.format("beauty item")
    assert item_texts(dataset) == {
        "i1": head + "description is Soft. gentle soap; title is Alpha; "
        "categories is Beauty, Skin Care; price is 12.99",  # the first category path only
        "i2": head + "title is Beta; categories is Beauty; brand is Bolt",  # order first seen
        "i3": head + "title is Gamma",
    }
    columns = pl.read_parquet(dataset.path / "items.parquet").columns
    assert columns == ["item_idx", "item_id", "text", "description", "title", "imUrl",
                       "salesRank", "categories", "price", "related", "brand"]
    assert info.config["text_template"] == "llmemb"
    assert info.config["prompt_noun"] == "beauty item"
    assert set(info.config["prompt_dropped_keys"]) >= {"related", "imUrl", "salesRank", "fit"}


def test_amazon2018_fashion_drops_its_keys_and_joins_lists(tmp_path):
    record = {
        "category": ["Clothing", "Women"],
        "tech1": "",
        "description": ["Light; airy", "Cotton"],
        "fit": "True to size",
        "title": "Tee",
        "also_buy": ["i2"],
        "brand": "Acme",
        "feature": ["Machine wash", "Machine wash"],  # repeats are kept, as LLMEmb joins them
        "also_view": [],
        "similar_item": "<table>",
        "price": "$9.99",
        "asin": "i1",
        "imageURL": ["http://img/a.jpg"],
        "imageURLHighRes": ["http://img/A.jpg"],
    }
    meta = write_text(tmp_path / "meta_AMAZON_FASHION.json", json.dumps(record) + "\n")
    reviews = amazon_reviews(tmp_path / "AMAZON_FASHION.json")
    _, dataset = build_sample("amazon2014", [reviews, meta], tmp_path / "out",
                              text_template="llmemb")
    assert item_texts(dataset)["i1"] == (
        HEAD.format("fashion item") + "category is Clothing, Women; description is Light. airy, "
        "Cotton; title is Tee; brand is Acme; feature is Machine wash, Machine wash; "
        "price is $9.99"
    )
    assert item_texts(dataset)["i2"] == ""  # no metadata record


def test_yelp_drops_longitude_and_latitude(tmp_path):
    folder = tmp_path / "yelp"
    write_text(
        folder / "review.json",
        "".join(
            json.dumps({"review_id": f"r{n}", "user_id": u, "business_id": i, "stars": r,
                        "date": "2015-01-0{} 10:00:00".format(1 + n % 9)}) + "\n"
            for n, (u, i, r, _) in enumerate(SAMPLE)
        ),
    )
    business = {"business_id": "i1", "name": "Pizza Place", "city": "Tampa", "latitude": 27.9,
                "longitude": -82.4, "stars": 4.5, "attributes": {"WiFi": "free"},
                "categories": "Pizza, Italian", "hours": None}
    write_text(folder / "business.json", json.dumps(business) + "\n")
    info, dataset = build_sample("yelp", [folder], tmp_path / "out", text_template="llmemb")
    assert item_texts(dataset)["i1"] == (
        HEAD.format("point of interest") + "name is Pizza Place; city is Tampa; stars is 4.5; "
        "attributes is WiFi: free; categories is Pizza, Italian"
    )
    assert info.config["prompt_dropped_keys"] == ["longitude", "latitude"]


def test_ml100k_calls_items_movies_and_the_noun_can_be_set(tmp_path):
    meta = preprocess(source="ml-100k", paths=[], out=tmp_path / "ml", text_template="llmemb")
    items = pl.read_parquet(tmp_path / "ml" / "items.parquet")
    toy_story = items.filter(pl.col("item_id") == "1")["text"].item()
    assert toy_story == (HEAD.format("movie") + "movie_title is Toy Story; release_year is 1995; "
                         "class is Animation Children's Comedy")
    assert meta.stats["text_coverage"] == 1.0 and meta.config["prompt_dropped_keys"] == []
    films = preprocess(source="ml-100k", paths=[], out=tmp_path / "films", text_template="llmemb",
                       prompt_noun="film")
    assert films.fingerprint != meta.fingerprint and films.config["prompt_noun"] == "film"
    texts = pl.read_parquet(tmp_path / "films" / "items.parquet")["text"]
    assert texts.str.starts_with(HEAD.format("film")).all()


@pytest.mark.parametrize(
    "options, message",
    [
        ({"prompt_noun": "film"}, "--prompt-noun names the item in --text-template llmemb"),
        ({"text_template": "llmemb", "prompt_noun": " "}, "--prompt-noun must be one non-empty"),
        ({"text_template": "llmemb", "prompt_noun": "a\nb"}, "--prompt-noun must be one non-empty"),
    ],
)
def test_bad_prompt_options_are_refused(tmp_path, options, message):
    with pytest.raises(SpecrecError, match=message):
        preprocess(source="ml-100k", paths=[], out=tmp_path / "out", **options)
    assert not (tmp_path / "out").exists()


def test_the_prompt_needs_an_item_file(tmp_path):
    events = write_text(tmp_path / "e.csv", "u,i,t\n" + "".join(
        f"{u},{i},{t}\n" for u, i, _, t in SAMPLE))
    with pytest.raises(SpecrecError, match="found no item file; pass it"):
        preprocess(source="csv", paths=[events], out=tmp_path / "out", text_template="llmemb",
                   columns={"user": "u", "item": "i", "time": "t"})
