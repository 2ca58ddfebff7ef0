"""Item text from a template: `{field}` placeholders; `[...]` parts drop out if a field is empty.

Example: `"{movie_title}[ ({release_year})][. Genres: {class}]"` renders
`Toy Story (1995). Genres: Animation Children's Comedy`, and `Toy Story. Genres: ...` when the year
is missing. `[[`/`]]` and `{{`/`}}` are literal brackets and braces. Missing means null, blank, or
one of MISSING_TEXT; a missing field outside brackets renders as nothing. Whitespace (newlines too)
is collapsed to single spaces, and separators left dangling at either end are trimmed.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

import polars as pl

from specrec.errors import SpecrecError

MISSING_TEXT = ("", "nan", "NaN", "None", "null")
LEADING_JUNK = r"^[\s.,;:|]+"
TRAILING_JUNK = r"[\s,;:|]+$"


@dataclass(frozen=True)
class TemplatePart:
    """Literal text and fields in order; an optional part vanishes if a field in it is missing."""

    pieces: tuple[tuple[str, str | None], ...]
    optional: bool

    @property
    def fields(self) -> list[str]:
        return [field for _, field in self.pieces if field is not None]


def _split_parts(template: str) -> list[tuple[str, bool]]:
    """Cut the template into (format string, optional) at single `[` and `]`."""
    parts: list[tuple[str, bool]] = []
    buffer, optional, i = "", False, 0
    while i < len(template):
        pair, char = template[i : i + 2], template[i]
        if pair in ("[[", "]]", "{{", "}}"):
            buffer += pair[0] if pair[0] in "[]" else pair
            i += 2
        elif char == "{":
            end = template.find("}", i)
            if end < 0:
                raise SpecrecError(f"text template '{template}' has an unclosed '{{'; close it")
            buffer += template[i : end + 1]
            i = end + 1
        elif char == "}":
            raise SpecrecError(f"text template '{template}' has a stray '}}'; write '}}}}' for one")
        elif char == "[" or char == "]":
            if (char == "[") == optional:
                problem = "nested '['" if optional else "a ']' without '['"
                raise SpecrecError(
                    f"text template '{template}' has {problem}; write '[[' or ']]' for one"
                )
            parts.append((buffer, optional))
            buffer, optional = "", char == "["
            i += 1
        else:
            buffer += char
            i += 1
    if optional:
        raise SpecrecError(f"text template '{template}' has an unclosed '['; close it with ']'")
    parts.append((buffer, False))
    return [(text, opt) for text, opt in parts if text]


def parse_template(template: str) -> list[TemplatePart]:
    """The template's parts; raises SpecrecError on bad syntax or format specs."""
    parts = []
    for text, optional in _split_parts(template):
        pieces: list[tuple[str, str | None]] = []
        for literal, field, spec, conversion in string.Formatter().parse(text):
            if field is not None and (not field.strip() or spec or conversion):
                raise SpecrecError(
                    f"text template '{template}': write fields as {{column}} "
                    f"(no positional '{{}}', ':spec' or '!conversion')"
                )
            pieces.append((literal, field))
        parts.append(TemplatePart(tuple(pieces), optional))
    return parts


def template_fields(template: str) -> list[str]:
    """The column names a template uses, in order of first use."""
    fields = [f for part in parse_template(template) for f in part.fields]
    return list(dict.fromkeys(fields))


def _clean(column: str) -> pl.Expr:
    """A metadata column as single-spaced text, null when missing."""
    value = pl.col(column).cast(pl.String).str.replace_all(r"\s+", " ").str.strip_chars()
    return pl.when(value.is_in(MISSING_TEXT)).then(None).otherwise(value)


def render_texts(items: pl.DataFrame, template: str) -> pl.Series:
    """One text per row of `items` (string columns); '' for every row if the template is empty."""
    if not template:
        return pl.Series("text", [""] * items.height, dtype=pl.String)
    parts = parse_template(template)
    missing = [f for f in template_fields(template) if f not in items.columns]
    if missing:
        raise SpecrecError(
            f"text template uses unknown column(s) {missing}; available: {', '.join(items.columns)}"
        )
    if not template_fields(template):
        raise SpecrecError(f"text template '{template}' uses no {{column}}; name at least one")
    exprs = []
    for part in parts:
        pieces = []
        for literal, field in part.pieces:
            if literal:
                pieces.append(pl.lit(literal))
            if field is not None:
                pieces.append(_clean(field) if part.optional else _clean(field).fill_null(""))
        exprs.append(pl.concat_str(pieces).fill_null(""))
    text = (
        pl.concat_str(exprs)
        .str.replace_all(r"\s+", " ")
        .str.replace_all(LEADING_JUNK, "")
        .str.replace_all(TRAILING_JUNK, "")
    )
    return items.select(text.alias("text")).to_series()
