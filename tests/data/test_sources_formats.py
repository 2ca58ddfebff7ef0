"""Every source reads the shared sample in its real format (gz where usual) to the same result."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import polars as pl
import pytest

from raw_samples import (
    SAMPLE,
    TITLES,
    assert_sample_result,
    build_sample,
    item_texts,
    numeric,
    write_text,
)

ML_GENRES = [
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
]


def flags(*genres: str) -> str:
    return "|".join("1" if g in genres else "0" for g in ML_GENRES)


def test_movielens_100k_raw(tmp_path):
    folder = tmp_path / "ml-100k"
    write_text(
        folder / "u.data",
        "".join(f"{numeric(u)}\t{numeric(i)}\t{int(r)}\t{t}\n" for u, i, r, t in SAMPLE),
    )
    write_text(
        folder / "u.item",
        "\n".join(
            [
                f"1|Alpha (1995)|01-Jan-1995||http://x|{flags('Comedy')}",
                f"2|Beta (1996)|||http://x|{flags('unknown')}",  # only the 'unknown' genre
                f"3|Gamma é (1994)|01-Jan-1994||http://x|{flags('Action', 'Sci-Fi')}",
                f"4|Delta (1990)|01-Jan-1990||http://x|{flags('Drama')}",
            ]
        )
        + "\n",
        encoding="latin-1",
    )
    meta, dataset = build_sample("movielens", [folder], tmp_path / "out")
    assert_sample_result(meta, dataset, item_ids=["3", "1", "2"], user_ids=["1", "2"])
    assert item_texts(dataset) == {
        "3": "Gamma é (1994). Genres: Action, Sci-Fi",
        "1": "Alpha (1995). Genres: Comedy",
        "2": "Beta (1996)",
    }
    assert set(meta.config["raw_files"]) == {"interactions", "items"}


def test_movielens_1m_dat_latin1(tmp_path):
    folder = tmp_path / "ml-1m"
    write_text(
        folder / "ratings.dat",
        "".join(f"{numeric(u)}::{numeric(i)}::{int(r)}::{t}\n" for u, i, r, t in SAMPLE),
    )
    write_text(
        folder / "movies.dat",
        "1::Alpha: The Return (1995)::Comedy|Drama\n3::Gamma é (1994)::Action\n",
        encoding="latin-1",
    )
    meta, dataset = build_sample("movielens", [folder / "ratings.dat"], tmp_path / "out")
    assert_sample_result(meta, dataset, item_ids=["3", "1", "2"], user_ids=["1", "2"])
    assert item_texts(dataset) == {
        "3": "Gamma é (1994). Genres: Action",
        "1": "Alpha: The Return (1995). Genres: Comedy, Drama",
        "2": "",
    }
    assert meta.stats["text_coverage"] == pytest.approx(2 / 3, abs=1e-6)


def test_movielens_20m_csv(tmp_path):
    folder = tmp_path / "ml-20m"
    write_text(
        folder / "ratings.csv",
        "userId,movieId,rating,timestamp\n"
        + "".join(f"{numeric(u)},{numeric(i)},{r},{t}\n" for u, i, r, t in SAMPLE),
    )
    write_text(
        folder / "movies.csv",
        'movieId,title,genres\n1,"Alpha, The (1995)",Comedy|Drama\n'
        "2,Beta (1996),(no genres listed)\n3,Gamma (1994),Action\n",
    )
    meta, dataset = build_sample("movielens", [folder], tmp_path / "out")
    assert_sample_result(meta, dataset, item_ids=["3", "1", "2"], user_ids=["1", "2"])
    assert item_texts(dataset)["1"] == "Alpha, The (1995). Genres: Comedy, Drama"
    assert item_texts(dataset)["2"] == "Beta (1996)"


def write_recbole(folder, name="sample"):
    write_text(
        folder / f"{name}.inter",
        "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
        + "".join(f"{u}\t{i}\t{r}\t{t}\n" for u, i, r, t in SAMPLE),
    )
    write_text(
        folder / f"{name}.item",
        "item_id:token\ttitle:token_seq\tyear:token\tprice:float\n"
        'i1\tAlpha "quoted"\t1995\t9.5\ni2\tBeta\t\t1.0\ni3\tGamma\t1994\t2.0\n',
    )


def test_recbole_atomic_folder(tmp_path):
    write_recbole(tmp_path / "sample")
    meta, dataset = build_sample(
        "recbole", [tmp_path / "sample"], tmp_path / "out", text_template="{title}[ ({year})]"
    )
    assert_sample_result(meta, dataset)
    assert item_texts(dataset) == {
        "i3": "Gamma (1994)",
        "i1": 'Alpha "quoted" (1995)',
        "i2": "Beta",
    }
    items = pl.read_parquet(dataset.path / "items.parquet")
    assert items.columns == ["item_idx", "item_id", "text", "title", "year"]  # float fields dropped
    assert meta.config["columns"] == {
        "user": "user_id",
        "item": "item_id",
        "time": "timestamp",
        "rating": "rating",
    }


def test_recbole_default_template_names_the_columns(tmp_path):
    write_recbole(tmp_path / "sample")
    meta, dataset = build_sample(
        "recbole", [tmp_path / "sample" / "sample.inter"], tmp_path / "out"
    )
    assert meta.config["text_template"] == "[title: {title}][; year: {year}]"
    assert item_texts(dataset)["i3"] == "title: Gamma; year: 1994"
    assert item_texts(dataset)["i2"] == "title: Beta"


def test_recbole_custom_field_names(tmp_path):
    write_text(
        tmp_path / "x" / "x.inter",
        "uid:token\tiid:token\twhen:float\n" + "".join(f"{u}\t{i}\t{t}\n" for u, i, _, t in SAMPLE),
    )
    meta, dataset = build_sample(
        "recbole",
        [tmp_path / "x"],
        tmp_path / "out",
        columns={"user": "uid", "item": "iid", "time": "when"},
    )
    assert_sample_result(meta, dataset)
    assert "rating" not in pl.read_parquet(dataset.path / "interactions.parquet").columns
    assert meta.stats["text_coverage"] == 0.0


def amazon2014_meta_line(asin: str) -> str:
    """Metadata as the 2014 dump has it: Python dict literals, not JSON."""
    records = {
        "i1": {
            "asin": "i1",
            "title": "Alpha",
            "price": 12.99,
            "brand": "Acme",
            "categories": [["Beauty", "Skin Care"], ["Beauty", "Face"]],
        },
        "i2": {"asin": "i2", "brand": "Bolt", "categories": [["Beauty"]], "description": None},
        "i3": {"asin": "i3", "title": 'Gamma\'s "best"', "categories": [], "salesRank": {"B": 1}},
    }
    return repr(records[asin])


@pytest.mark.parametrize("gz", [True, False])
def test_amazon2014(tmp_path, gz):
    suffix = ".json.gz" if gz else ".json"
    reviews = write_text(
        tmp_path / f"reviews_Beauty_5{suffix}",
        "".join(
            json.dumps(
                {
                    "reviewerID": u,
                    "asin": i,
                    "reviewerName": "n",
                    "helpful": [0, 0],
                    "reviewText": "t",
                    "overall": r,
                    "summary": "s",
                    "unixReviewTime": t,
                    "reviewTime": "01 1, 1998",
                }
            )
            + "\n"
            for u, i, r, t in SAMPLE
        ),
        gz=gz,
    )
    metafile = write_text(
        tmp_path / f"meta_Beauty{suffix}",
        "".join(amazon2014_meta_line(a) + "\n" for a in ("i1", "i2", "i3")),
        gz=gz,
    )
    meta, dataset = build_sample("amazon2014", [metafile, reviews], tmp_path / "out")
    assert_sample_result(meta, dataset)
    assert item_texts(dataset) == {
        "i1": "Alpha. Brand: Acme. Categories: Beauty, Skin Care, Face",
        "i2": "Brand: Bolt. Categories: Beauty",  # no title: the leading '. ' is trimmed
        "i3": 'Gamma\'s "best"',
    }
    items = pl.read_parquet(dataset.path / "items.parquet")
    assert items.filter(pl.col("item_id") == "i1")["price"].to_list() == ["12.99"]


def test_amazon2014_folder_finds_both_files(tmp_path):
    folder = tmp_path / "amazon"
    write_text(
        folder / "reviews.json.gz",
        "".join(
            json.dumps({"reviewerID": u, "asin": i, "overall": r, "unixReviewTime": t}) + "\n"
            for u, i, r, t in SAMPLE
        ),
        gz=True,
    )
    write_text(folder / "meta.json.gz", amazon2014_meta_line("i1") + "\n", gz=True)
    write_text(folder / "README.txt", "not data\n")
    meta, dataset = build_sample("amazon2014", [folder], tmp_path / "out")
    assert_sample_result(meta, dataset)
    assert set(meta.config["raw_files"]) == {"interactions", "items"}


@pytest.mark.parametrize("gz", [True, False])
def test_amazon2023_ms_timestamps(tmp_path, gz):
    suffix = ".jsonl.gz" if gz else ".jsonl"
    reviews = write_text(
        tmp_path / f"All_Beauty{suffix}",
        "".join(
            json.dumps(
                {
                    "rating": r,
                    "title": "t",
                    "text": "x",
                    "images": [],
                    "asin": "child-" + i,
                    "parent_asin": i,
                    "user_id": u,
                    "timestamp": t * 1000 + 7,
                    "helpful_vote": 0,
                    "verified_purchase": True,
                }
            )
            + "\n"
            for u, i, r, t in SAMPLE
        ),
        gz=gz,
    )
    metas = [
        {
            "main_category": "All Beauty",
            "title": "Alpha",
            "average_rating": 4.1,
            "features": [],
            "description": ["Line one.", "Line two."],
            "price": None,
            "images": [],
            "videos": [],
            "store": "Acme",
            "categories": ["Beauty", "Hair"],
            "details": {"Size": "1 oz"},
            "parent_asin": "i1",
            "bought_together": None,
        },
        {
            "main_category": None,
            "title": "Beta",
            "store": None,
            "categories": [],
            "details": {},
            "description": [],
            "parent_asin": "i2",
        },
    ]
    metafile = write_text(
        tmp_path / f"meta_All_Beauty{suffix}", "".join(json.dumps(m) + "\n" for m in metas), gz=gz
    )
    meta, dataset = build_sample("amazon2023", [reviews, metafile], tmp_path / "out")
    assert_sample_result(meta, dataset)
    assert dataset.timestamps.min() == SAMPLE[3][3]  # ms -> s
    texts = item_texts(dataset)
    assert texts == {"i1": "Alpha. Store: Acme. Categories: Beauty, Hair", "i2": "Beta", "i3": ""}
    items = pl.read_parquet(dataset.path / "items.parquet").filter(pl.col("item_id") == "i1")
    assert items["description"].to_list() == ["Line one. Line two."]
    assert items["details"].to_list() == ["Size: 1 oz"] and items["price"].to_list() == [None]


def yelp_date(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def test_yelp_folder(tmp_path):
    folder = tmp_path / "yelp"
    write_text(
        folder / "yelp_academic_dataset_review.json",
        "".join(
            json.dumps(
                {
                    "review_id": f"r{n}",
                    "user_id": u,
                    "business_id": i,
                    "stars": r,
                    "useful": 0,
                    "text": "great",
                    "date": yelp_date(t),
                }
            )
            + "\n"
            for n, (u, i, r, t) in enumerate(SAMPLE)
        ),
    )
    write_text(
        folder / "yelp_academic_dataset_business.json",
        "".join(
            json.dumps(
                {
                    "business_id": i,
                    "name": TITLES[i],
                    "address": "1 Main St",
                    "city": city,
                    "state": "PA",
                    "stars": 4.0,
                    "attributes": {"WiFi": "free"},
                    "categories": cats,
                }
            )
            + "\n"
            for i, city, cats in (
                ("i1", "Philadelphia", "Pizza, Italian"),
                ("i2", None, None),
                ("i3", "Tampa", "Bars"),
            )
        ),
    )
    write_text(
        folder / "yelp_academic_dataset_user.json",
        json.dumps({"user_id": "u1", "name": "Ann", "review_count": 3}) + "\n",
    )
    meta, dataset = build_sample("yelp", [folder], tmp_path / "out")
    assert_sample_result(meta, dataset)
    assert dataset.timestamps.tolist() == sorted(dataset.timestamps.tolist()[:3]) + sorted(
        dataset.timestamps.tolist()[3:]
    )
    assert item_texts(dataset) == {
        "i1": "Alpha, Philadelphia, PA. Categories: Pizza, Italian",
        "i2": "Beta, PA",
        "i3": "Gamma, Tampa, PA. Categories: Bars",
    }


def test_csv_with_mapping_item_file_and_iso_dates(tmp_path):
    inter = write_text(
        tmp_path / "events.csv",
        "when,who,what,stars\n"
        + "".join(f"{yelp_date(t).replace(' ', 'T')}Z,{u},{i},{r}\n" for u, i, r, t in SAMPLE),
    )
    items = write_text(
        tmp_path / "items.csv",
        'what,title,brand\ni1,Alpha,Acme\ni2,"Beta, the second",\ni3,Gamma,Zed\n',
    )
    columns = {"user": "who", "item": "what", "time": "when", "rating": "stars"}
    meta, dataset = build_sample(
        "csv",
        [inter, items],
        tmp_path / "out",
        columns=columns,
        text_template="{title}[ by {brand}]",
    )
    assert_sample_result(meta, dataset)
    assert dataset.timestamps[0] == SAMPLE[3][3]
    assert item_texts(dataset) == {
        "i3": "Gamma by Zed",
        "i1": "Alpha by Acme",
        "i2": "Beta, the second",
    }
    assert pl.read_parquet(dataset.path / "interactions.parquet")["rating"].to_list()[:3] == [
        4.0,
        5.0,
        3.0,
    ]


def test_csv_gzipped_tsv_without_item_file(tmp_path):
    inter = write_text(
        tmp_path / "events.tsv.gz",
        "u\ti\tt\n" + "".join(f"{u}\t{i}\t{t}\n" for u, i, _, t in SAMPLE),
        gz=True,
    )
    meta, dataset = build_sample(
        "csv", [inter], tmp_path / "out", columns={"user": "u", "item": "i", "time": "t"}
    )
    assert_sample_result(meta, dataset)
    assert meta.stats["text_coverage"] == 0.0 and meta.config["text_template"] == ""


def test_parquet_with_datetime_column_and_item_key(tmp_path):
    frame = pl.DataFrame(
        {
            "user": [u for u, *_ in SAMPLE],
            "item": [i for _, i, _, _ in SAMPLE],
            "ts": [datetime.fromtimestamp(t, timezone.utc) for *_, t in SAMPLE],
        }
    )
    frame.write_parquet(tmp_path / "events.parquet")
    pl.DataFrame(
        {"sku": ["i3", "i1"], "name": ["Gamma", "Alpha"], "tags": [["x", "y"], []]}
    ).write_parquet(tmp_path / "items.parquet")
    columns = {"user": "user", "item": "item", "time": "ts", "item_key": "sku"}
    meta, dataset = build_sample(
        "parquet",
        [tmp_path / "events.parquet", tmp_path / "items.parquet"],
        tmp_path / "out",
        columns=columns,
    )
    assert_sample_result(meta, dataset)
    assert meta.config["text_template"] == "[name: {name}][; tags: {tags}]"
    assert item_texts(dataset) == {"i3": "name: Gamma; tags: x, y", "i1": "name: Alpha", "i2": ""}
    assert dataset.timestamps.max() == SAMPLE[0][3]
