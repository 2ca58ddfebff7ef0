"""The preprocess stage: raw files -> dataset artifact (filter, re-index, item text, splits)."""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from specrec.artifacts import Meta, check_output, claim_output, items_fingerprint
from specrec.console import log
from specrec.data.dataset import SPLITS
from specrec.data.filtering import (
    DEFAULT_FILTER,
    DEFAULT_MIN_USER_AFTER,
    FILTERS,
    FilterOptions,
    apply_rating_threshold,
    check_filter,
    check_k,
    keep_items_with_text,
)
from specrec.data.sources import INTERACTION_COLUMNS, SOURCES, RawData, Source
from specrec.data.splits import Events, SplitOptions, check_split_options, split_events
from specrec.data.text import LLMEMB_PROMPT, TextRecipe, choose_text_recipe
from specrec.errors import SpecrecError

KIND = "dataset"
HASH_CHUNK = 1 << 20


@dataclass
class DatasetTables:
    """The four tables of a dataset artifact, its items fingerprint and its stats."""

    interactions: pl.DataFrame
    items: pl.DataFrame
    users: pl.DataFrame
    splits: pl.DataFrame
    items_fingerprint: str
    stats: dict

    def write(self, directory: Path) -> None:
        for name in ("interactions", "items", "users", "splits"):
            getattr(self, name).write_parquet(directory / f"{name}.parquet")


def file_sha256(path: Path) -> str:
    """`sha256:<hex>` of a file's bytes."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(HASH_CHUNK):
                digest.update(chunk)
    except OSError as exc:
        raise SpecrecError(f"cannot read '{path}' ({exc.strerror or exc}); check the file") from exc
    return "sha256:" + digest.hexdigest()


def _read(reader: Source, files: dict[str, Path], columns: dict[str, str] | None) -> RawData:
    """The source's raw data; I/O and decoding failures become one-line errors."""
    try:
        return reader.read(files, columns)
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        message = f"cannot read the {reader.name} files ({reason}); check they are intact"
        raise SpecrecError(message) from exc


def _first_appearance_index(ids: pl.Series, name: str) -> pl.DataFrame:
    """Ids numbered 1.. in order of first appearance."""
    unique = ids.unique(maintain_order=True)
    return pl.DataFrame({name: np.arange(1, unique.len() + 1, dtype=np.int32), ids.name: unique})


def _order_events(inter: pl.DataFrame, users: pl.DataFrame, items: pl.DataFrame) -> pl.DataFrame:
    """Index ids, sort by (user, timestamp, file row) and number each user's events from 0."""
    indexed = inter.with_columns(
        pl.col("user_id").replace_strict(users["user_id"], users["user_idx"]).alias("user_idx"),
        pl.col("item_id").replace_strict(items["item_id"], items["item_idx"]).alias("item_idx"),
    ).sort(["user_idx", "timestamp", "row"])
    position = pl.int_range(pl.len(), dtype=pl.Int32).over("user_idx")
    columns = [
        pl.col("user_idx").cast(pl.Int32),
        pl.col("item_idx").cast(pl.Int32),
        pl.col("timestamp").cast(pl.Int64),
        position.alias("position"),
    ]
    if "rating" in inter.columns:
        columns.append(pl.col("rating").cast(pl.Float32))
    return indexed.select(columns)


def _item_table(items: pl.DataFrame, metadata: pl.DataFrame, recipe: TextRecipe) -> pl.DataFrame:
    """item_idx, item_id, text and the metadata columns, one row per indexed item in order."""
    metadata = metadata.with_columns(pl.col("item_id").cast(pl.String))
    extra = [c for c in metadata.columns if c != "item_id"]
    table = items.join(
        metadata.select("item_id", *[pl.col(c).cast(pl.String) for c in extra]),
        on="item_id",
        how="left",
    ).sort("item_idx")
    text = recipe.render(table)
    return table.select(pl.col("item_idx").cast(pl.Int32), "item_id").with_columns(
        text.alias("text"), *[table[c] for c in extra]
    )


def _check_raw(raw: RawData) -> pl.DataFrame:
    inter = raw.interactions
    missing = [c for c in INTERACTION_COLUMNS if c not in inter.columns]
    if missing:
        raise SpecrecError(f"the source returned no {missing} column(s); check the input files")
    return inter.with_columns(
        pl.col("user_id").cast(pl.String),
        pl.col("item_id").cast(pl.String),
        pl.col("timestamp").cast(pl.Int64),
    ).with_row_index("row")


def build_dataset(
    raw: RawData,
    *,
    counts: FilterOptions,
    rating_threshold: float | None,
    recipe: TextRecipe,
    protocol: str,
    options: SplitOptions,
    filtering: str = DEFAULT_FILTER,
    drop_items_without_text: bool = False,
) -> DatasetTables:
    """Filter, re-index (first appearance), order (time, then file order), add text and splits."""
    inter = _check_raw(raw)
    stats: dict = {
        "raw_interactions": inter.height,
        "raw_users": inter["user_id"].n_unique(),
        "raw_items": inter["item_id"].n_unique(),
    }
    complete = inter.drop_nulls(list(INTERACTION_COLUMNS))
    stats["dropped_incomplete"] = inter.height - complete.height
    rated = apply_rating_threshold(complete, rating_threshold)
    stats["dropped_by_rating"] = complete.height - rated.height
    if drop_items_without_text:
        rated, dropped = keep_items_with_text(rated, raw.items, recipe)
        stats.update(dropped)
    core = FILTERS.get(filtering)(rated, counts)
    kept = core.interactions
    if kept.height == 0:
        raise SpecrecError(
            f"no interactions left after filtering ({stats['raw_interactions']} raw); "
            "lower --min-user/--min-item or --rating-threshold"
        )
    users = _first_appearance_index(kept["user_id"], "user_idx")
    items = _first_appearance_index(kept["item_id"], "item_idx")
    events = _order_events(kept, users, items)
    item_table = _item_table(items, raw.items, recipe)
    result = split_events(
        protocol,
        Events(
            user=events["user_idx"].to_numpy().astype(np.int64),
            position=events["position"].to_numpy().astype(np.int64),
            timestamp=events["timestamp"].to_numpy(),
            n_users=users.height,
        ),
        options,
    )
    splits = events.select("user_idx", "position").with_columns(
        pl.Series("split", np.asarray(SPLITS)[result.codes], dtype=pl.String)
    )
    coverage = float((item_table["text"].str.len_chars() > 0).mean())
    stats.update(
        {
            **core.info,
            "users": users.height,
            "items": items.height,
            "interactions": events.height,
            "text_coverage": round(coverage, 6),
            "splits": result.counts(),
            **result.info,
        }
    )
    return DatasetTables(
        interactions=events,
        items=item_table,
        users=users.select("user_idx", pl.col("user_id").cast(pl.String)),
        splits=splits,
        items_fingerprint=items_fingerprint(item_table["item_id"].to_list()),
        stats=stats,
    )


def preprocess(
    *,
    source: str,
    paths: list[Path],
    out: Path,
    min_user: int = 5,
    min_item: int = 5,
    rating_threshold: float | None = None,
    text_template: str | None = None,
    protocol: str = "loo",
    columns: dict[str, str] | None = None,
    seed: int = 0,
    valid_cutoff: float | None = None,
    test_cutoff: float | None = None,
    filtering: str = DEFAULT_FILTER,
    min_user_after: int | None = None,
    drop_items_without_text: bool = False,
    prompt_noun: str | None = None,
    user_order: str | None = None,
    force: bool = False,
) -> Meta:
    """Turn raw files of `source` into a dataset artifact at `out` (skipped when up to date).

    `filtering` names a count filter of `filtering.FILTERS` (`k-core`, or `one-pass` with its
    `min_user_after`, 3 by default); `text_template="llmemb"` writes LLMEmb's attribute prompts.
    """
    out = Path(out)
    source_name = SOURCES.canonical(source)
    reader = SOURCES.get(source_name)(every_field=text_template == LLMEMB_PROMPT)
    check_k("min-user", min_user)
    check_k("min-item", min_item)
    filter_name = check_filter(filtering, min_user_after)
    if filter_name == "one-pass" and min_user_after is None:
        min_user_after = DEFAULT_MIN_USER_AFTER
    counts = FilterOptions(min_user, min_item, min_user_after)
    if rating_threshold is not None and not math.isfinite(rating_threshold):
        raise SpecrecError(f"--rating-threshold must be a finite number, got {rating_threshold}")
    options = SplitOptions(seed=seed, valid_cutoff=valid_cutoff, test_cutoff=test_cutoff,
                           user_order=user_order or "time")
    protocol_name = check_split_options(protocol, options)
    if user_order is not None and protocol_name != "user-split":
        raise SpecrecError(f"--user-order applies only to --protocol user-split (got {protocol_name})")
    resolved_columns = reader.resolve_columns(dict(columns) if columns else None)
    files = reader.locate([Path(p) for p in paths], resolved_columns)
    recipe = choose_text_recipe(reader, files, resolved_columns, text_template, prompt_noun)
    if drop_items_without_text and not recipe.template:
        raise SpecrecError("--drop-items-without-text needs item text, but the text template is "
                           "empty (no item file); pass the metadata file or drop the option")
    raw_paths = [*map(Path, paths), *files.values()]
    check_output(out, KIND, raw_paths)  # before reading anything
    config = {
        "source": source_name,
        "paths": [str(Path(p).resolve()) for p in paths],
        "raw_files": {
            role: {"path": str(path.resolve()), "sha256": file_sha256(path)}
            for role, path in files.items()
        },
        "columns": resolved_columns,
        "min_user": min_user,
        "min_item": min_item,
        "rating_threshold": rating_threshold,
        "text_template": recipe.template,
        "protocol": protocol_name,
        "seed": seed,
        "valid_cutoff": valid_cutoff,
        "test_cutoff": test_cutoff,
    }
    # options added later enter the config only when used: older datasets keep their fingerprint
    if filter_name != DEFAULT_FILTER:
        config.update({"filter": filter_name, "min_user_after": min_user_after})
    if recipe.is_prompt:
        config["prompt_noun"] = recipe.noun
        config["prompt_dropped_keys"] = list(recipe.dropped_keys)
    if drop_items_without_text:
        config["drop_items_without_text"] = True
    if protocol_name == "user-split":  # before --user-order existed, users were shuffled
        config["user_order"] = options.user_order
    with claim_output(out, kind=KIND, config=config, inputs={}, protect=raw_paths, force=force,
                      log=log) as claim:
        if claim.existing is not None:
            return claim.existing
        started = time.perf_counter()
        log(f"reading {source_name}: {', '.join(p.name for p in files.values())}")
        tables = build_dataset(
            _read(reader, files, resolved_columns),
            counts=counts,
            rating_threshold=rating_threshold,
            recipe=recipe,
            protocol=protocol_name,
            options=options,
            filtering=filter_name,
            drop_items_without_text=drop_items_without_text,
        )
        tables.stats["seconds"] = round(time.perf_counter() - started, 3)
        if tables.stats["text_coverage"] < 1:
            log(f"{1 - tables.stats['text_coverage']:.1%} of items have no text (no metadata)")

        def write(tmp: Path) -> dict:
            tables.write(tmp)
            return tables.stats

        return claim.write(write, tables.items_fingerprint)
