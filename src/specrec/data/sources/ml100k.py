"""The bundled MovieLens-100K: RecBole's atomic files in the installed `recbole==1.2.1` wheel."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from specrec.data.sources.base import SOURCES, RawData, Source
from specrec.data.sources.recbole import RecBoleAtomic, read_recbole
from specrec.errors import SpecrecError

INSTALL_HINT = "install it with: pip install --no-deps recbole==1.2.1"


def bundled_ml100k_dir() -> Path:
    """`recbole/dataset_example/ml-100k/`, found without importing RecBole's code."""
    spec = importlib.util.find_spec("recbole")
    if spec is None or not spec.submodule_search_locations:
        raise SpecrecError(
            f"the bundled ml-100k data comes with the recbole package; {INSTALL_HINT}"
        )
    for location in spec.submodule_search_locations:
        folder = Path(location) / "dataset_example" / "ml-100k"
        if (folder / "ml-100k.inter").is_file():
            return folder
    raise SpecrecError(
        f"the installed recbole package has no dataset_example/ml-100k; {INSTALL_HINT}"
    )


@SOURCES.register("ml-100k")
class BundledML100K(Source):
    """MovieLens-100K as RecBole ships it; item text from movie_title, release_year and class."""

    name = "ml-100k"

    def locate(self, paths: list[Path], columns: dict[str, str] | None) -> dict[str, Path]:
        if paths:
            raise SpecrecError(
                "source ml-100k is bundled and takes no paths; for your own copy use "
                "'movielens FOLDER' or 'recbole FOLDER'"
            )
        folder = bundled_ml100k_dir()
        return {"interactions": folder / "ml-100k.inter", "items": folder / "ml-100k.item"}

    def default_template(self, files: dict[str, Path], columns: dict[str, str] | None) -> str:
        return "{movie_title}[ ({release_year})][. Genres: {class}]"

    def prompt_noun(self, files: dict[str, Path]) -> str:
        return "movie"

    def read(self, files: dict[str, Path], columns: dict[str, str] | None) -> RawData:
        return read_recbole(files, RecBoleAtomic.default_columns)
