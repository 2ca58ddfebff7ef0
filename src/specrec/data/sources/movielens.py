"""Raw MovieLens: ML-100K (`u.data`/`u.item`), ML-1M/10M (`.dat`), ML-20M/25M (`.csv`)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from specrec.data.sources.base import SOURCES, RawData, Source
from specrec.data.sources._io import (
    read_text,
    require_columns,
    require_path,
    to_float,
    to_seconds,
    wrap_read_errors,
)
from specrec.errors import SpecrecError

# Rating file -> (variant, item file) in the order they are looked for.
LAYOUTS = {
    "u.data": ("ml-100k", "u.item"),
    "ratings.dat": ("ml-1m", "movies.dat"),
    "ratings.csv": ("ml-20m", "movies.csv"),
}
ML100K_GENRES = (
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
)
NO_GENRE = ("unknown", "(no genres listed)")
ITEM_SCHEMA = {"item_id": pl.String, "title": pl.String, "genres": pl.String}


def interactions(user: pl.Series, item: pl.Series, rating: pl.Series, time: pl.Series, where: str):
    return pl.DataFrame(
        {
            "user_id": user.str.strip_chars(),
            "item_id": item.str.strip_chars(),
            "timestamp": to_seconds(time.str.strip_chars(), where),
            "rating": to_float(rating.str.strip_chars(), where),
        }
    )


def read_udata(path: Path) -> pl.DataFrame:
    """`u.data`: user, item, rating, timestamp; tab separated, no header."""
    frame = wrap_read_errors(
        path,
        lambda: pl.read_csv(
            path, separator="\t", has_header=False, infer_schema=False, quote_char=None
        ),
    )
    if frame.width != 4:
        raise SpecrecError(
            f"'{path}' has {frame.width} columns, u.data has 4 (user item rating time)"
        )
    return interactions(*frame.get_columns(), where=f"'{path}'")


def read_ratings_dat(path: Path) -> pl.DataFrame:
    """`ratings.dat`: `user::item::rating::timestamp` (read as ':'-separated with empty gaps)."""
    frame = wrap_read_errors(
        path,
        lambda: pl.read_csv(
            path, separator=":", has_header=False, infer_schema=False, quote_char=None
        ),
    )
    if frame.width != 7 or any(frame[:, i].drop_nulls().len() for i in (1, 3, 5)):
        raise SpecrecError(f"'{path}' is not in the 'user::item::rating::timestamp' format")
    return interactions(frame[:, 0], frame[:, 2], frame[:, 4], frame[:, 6], where=f"'{path}'")


def read_ratings_csv(path: Path) -> pl.DataFrame:
    """`ratings.csv` with header `userId,movieId,rating,timestamp` (ML-20M/25M/latest)."""
    frame = wrap_read_errors(path, lambda: pl.read_csv(path, infer_schema=False))
    roles = {"user": "userId", "item": "movieId", "rating": "rating", "time": "timestamp"}
    require_columns(frame, roles, f"'{path}'")
    return interactions(
        *(frame[roles[k]] for k in ("user", "item", "rating", "time")), where=f"'{path}'"
    )


def genre_names(folder: Path) -> tuple[str, ...]:
    """Genre names of the 19 u.item flags, from `u.genre` when present."""
    genre_file = folder / "u.genre"
    if not genre_file.is_file():
        return ML100K_GENRES
    names = [line.split("|")[0] for line in read_text(genre_file).splitlines() if line.strip()]
    return tuple(names) if len(names) == len(ML100K_GENRES) else ML100K_GENRES


def join_genres(names) -> str | None:
    kept = [n.strip() for n in names if n.strip() and n.strip() not in NO_GENRE]
    return ", ".join(kept) or None


def read_uitem(path: Path) -> pl.DataFrame:
    """`u.item`: id|title|release date|video date|IMDb URL|19 genre flags (latin-1)."""
    genres = genre_names(path.parent)
    rows = []
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("|")
        if len(fields) != 5 + len(genres):
            raise SpecrecError(f"'{path}' line {number} has {len(fields)} fields, u.item has 24")
        flags = fields[5:]
        rows.append(
            (
                fields[0],
                fields[1],
                fields[2],
                join_genres(g for g, f in zip(genres, flags, strict=True) if f.strip() == "1"),
            )
        )
    schema = {
        "item_id": pl.String,
        "title": pl.String,
        "release_date": pl.String,
        "genres": pl.String,
    }
    return pl.DataFrame(rows, schema=schema, orient="row")


def read_movies_dat(path: Path) -> pl.DataFrame:
    """`movies.dat`: `id::title::Genre|Genre` (latin-1 in ML-1M)."""
    rows = []
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("::")
        if len(fields) < 3:
            raise SpecrecError(f"'{path}' line {number} is not 'id::title::genres'")
        rows.append((fields[0], "::".join(fields[1:-1]), join_genres(fields[-1].split("|"))))
    return pl.DataFrame(rows, schema=ITEM_SCHEMA, orient="row")


def read_movies_csv(path: Path) -> pl.DataFrame:
    """`movies.csv` with header `movieId,title,genres`."""
    frame = wrap_read_errors(path, lambda: pl.read_csv(path, infer_schema=False))
    require_columns(frame, {"item": "movieId", "title": "title", "genres": "genres"}, f"'{path}'")
    genres = [join_genres((g or "").split("|")) for g in frame["genres"].to_list()]
    return pl.DataFrame(
        {"item_id": frame["movieId"], "title": frame["title"], "genres": genres}, schema=ITEM_SCHEMA
    )


READERS = {
    "u.data": read_udata,
    "ratings.dat": read_ratings_dat,
    "ratings.csv": read_ratings_csv,
    "u.item": read_uitem,
    "movies.dat": read_movies_dat,
    "movies.csv": read_movies_csv,
}


@SOURCES.register("movielens")
class MovieLens(Source):
    """A GroupLens MovieLens folder; the variant is detected from the rating file present."""

    name = "movielens"

    def locate(self, paths: list[Path], columns: dict[str, str] | None) -> dict[str, Path]:
        if len(paths) != 1:
            raise SpecrecError(f"source movielens takes one folder, got {len(paths)} paths")
        folder = require_path(paths[0], "MovieLens folder")
        if folder.is_file():
            folder = folder.parent
        for rating_name, (_, item_name) in LAYOUTS.items():
            if (folder / rating_name).is_file():
                files = {"interactions": folder / rating_name}
                if (folder / item_name).is_file():
                    files["items"] = folder / item_name
                return files
        raise SpecrecError(
            f"'{folder}' holds no MovieLens rating file ({', '.join(LAYOUTS)}); "
            "pass the unzipped MovieLens folder"
        )

    def default_template(self, files: dict[str, Path], columns: dict[str, str] | None) -> str:
        return "{title}[. Genres: {genres}]" if "items" in files else ""

    def prompt_noun(self, files: dict[str, Path]) -> str:
        return "movie"

    def read(self, files: dict[str, Path], columns: dict[str, str] | None) -> RawData:
        inter = READERS[files["interactions"].name](files["interactions"])
        items = (
            READERS[files["items"].name](files["items"])
            if "items" in files
            else pl.DataFrame(schema=ITEM_SCHEMA)
        )
        return RawData(interactions=inter, items=items.unique("item_id", maintain_order=True))
