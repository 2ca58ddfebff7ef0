"""Reading for LLMEmb's attribute prompt: every metadata field of an item file, the item noun."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from specrec.data.sources._io import iter_records, join_text, metadata_name


def read_every_item_field(
    files: dict[str, Path], *, key: str, first_path: tuple[str, ...] = ()
) -> pl.DataFrame:
    """Every metadata field of the optional 'items' file, columns in the order first seen: one
    row per `key` value (its first record), lists joined with ', ' (repeats kept), a field
    absent from a record null. A field of `first_path` that is a list of lists keeps its first
    list only (Amazon 2014 `categories`: the first category path, as LLMEmb)."""
    if "items" not in files:
        return pl.DataFrame(schema={"item_id": pl.String})
    rows: list[dict[str, str | None]] = []
    columns: dict[str, None] = {}
    for record in iter_records(files["items"]):
        if record.get(key) is None:
            continue
        row: dict[str, str | None] = {"item_id": str(record[key])}
        for field, value in record.items():
            if field == key:
                continue
            if field in first_path and isinstance(value, list) and value:
                value = value[0] if isinstance(value[0], list) else value
            column = metadata_name(field)
            columns.setdefault(column)
            row[column] = join_text(value, unique=False)
        rows.append(row)
    schema = {"item_id": pl.String, **dict.fromkeys(columns, pl.String)}
    return pl.DataFrame(rows, schema=schema).unique("item_id", keep="first", maintain_order=True)


def category_noun(path: Path) -> str:
    """The item noun of a reviews file named after its category, for LLMEmb's prompt:
    `reviews_Beauty_5.json.gz` -> 'beauty item', `AMAZON_FASHION.json` -> 'fashion item',
    `Toys_and_Games.jsonl` -> 'toys and games item'; a name without a category -> 'item'."""
    name = path.name
    for suffix in (".gz", ".jsonl", ".json"):
        name = name.removesuffix(suffix)
    words = [word for word in name.split("_") if word]
    if words and words[0].lower() == "reviews":
        words = words[1:]
    if words and words[-1] == "5":
        words = words[:-1]
    if words and words[0].lower() == "amazon":
        words = words[1:]
    category = " ".join(words).lower()
    return f"{category} item" if category else "item"
