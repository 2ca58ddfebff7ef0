"""Item text templates: optional [...] parts, missing values, escapes and errors."""

from __future__ import annotations

import polars as pl
import pytest

from specrec.data.text import render_texts, template_fields
from specrec.errors import SpecrecError

ITEMS = pl.DataFrame(
    {
        "title": ["Toy Story", "Heat", None, "Up  \n the  river", "nan"],
        "year": ["1995", None, "2001", "", "1999"],
        "genres": ["Animation, Comedy", "Crime", "Drama", None, "None"],
    }
)
TEMPLATE = "{title}[ ({year})][. Genres: {genres}]"


def test_optional_parts_drop_cleanly():
    assert render_texts(ITEMS, TEMPLATE).to_list() == [
        "Toy Story (1995). Genres: Animation, Comedy",
        "Heat. Genres: Crime",
        "(2001). Genres: Drama",  # no title: nothing dangling in front
        "Up the river",  # whitespace collapsed; blank year and missing genres dropped
        "(1999)",  # 'nan' and 'None' strings count as missing
    ]


def test_fields_outside_brackets_render_empty_and_escapes_are_literal():
    texts = render_texts(ITEMS, "{{{title}}} [[{year}]]").to_list()
    assert texts[0] == "{Toy Story} [1995]"
    assert texts[1] == "{Heat} []"
    assert template_fields(TEMPLATE) == ["title", "year", "genres"]


def test_empty_template_gives_empty_texts():
    assert render_texts(ITEMS, "").to_list() == [""] * 5


@pytest.mark.parametrize(
    "template, message",
    [
        ("{title}[ ({year})", "unclosed '\\['"),
        ("{title}] ({year})", "without '\\['"),
        ("[{title}[{year}]]", "nested"),
        ("{title", "unclosed '{'"),
        ("{title}}", "stray"),
        ("{} and {title}", "positional"),
        ("{title:>10}", "spec"),
        ("{author}", "unknown column"),
        ("just words", "no {column}"),
    ],
)
def test_bad_templates_are_errors(template, message):
    with pytest.raises(SpecrecError, match=message):
        render_texts(ITEMS, template)
