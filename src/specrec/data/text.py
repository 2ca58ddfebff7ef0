"""Item text from a template: `{field}` placeholders; `[...]` parts drop out if a field is empty.

Example: `"{movie_title}[ ({release_year})][. Genres: {class}]"` renders
`Toy Story (1995). Genres: Animation Children's Comedy`, and `Toy Story. Genres: ...` when the year
is missing. `[[`/`]]` and `{{`/`}}` are literal brackets and braces. Missing means null, blank, or
one of MISSING_TEXT; a missing field outside brackets renders as nothing. Whitespace (newlines too)
is collapsed to single spaces, and separators left dangling at either end are trimmed.

The name `llmemb` instead of a template selects LLMEmb's attribute prompt (`TextRecipe`).
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from specrec.errors import SpecrecError

if TYPE_CHECKING:
    from specrec.data.sources.base import Source

MISSING_TEXT = ("", "nan", "NaN", "None", "null")
LEADING_JUNK = r"^[\s.,;:|]+"
TRAILING_JUNK = r"[\s,;:|]+$"
LLMEMB_PROMPT = "llmemb"
PROMPT_VALUE_CHARS = 100
NOT_METADATA = ("item_id", "item_idx", "text")


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


def present(column: str) -> pl.Expr:
    """Whether a metadata value is there: not null, not blank, not one of MISSING_TEXT."""
    return _clean(column).is_not_null()


def _prompt_value(column: str) -> pl.Expr:
    """A value as LLMEmb's prompt writes it: stripped, cut to 100 characters, '\n' -> ' ' and
    ';' -> '.' (';' separates the attributes); null when missing."""
    value = pl.col(column).cast(pl.String).str.strip_chars()
    value = pl.when(value.is_in(MISSING_TEXT)).then(None).otherwise(value)
    cut = value.str.slice(0, PROMPT_VALUE_CHARS)
    return cut.str.replace_all("\n", " ", literal=True).str.replace_all(";", ".", literal=True)


def render_attribute_prompts(items: pl.DataFrame, fields: Sequence[str], noun: str) -> pl.Series:
    """LLMEmb's item prompt per row: `The <noun> has the following attributes: \n ` followed by
    `<key> is <value>` over `fields` in order, joined by '; ' (so no trailing '; '); missing
    values are skipped, and a row with none gets ''."""
    if not fields:
        return pl.Series("text", [""] * items.height, dtype=pl.String)
    attributes = pl.concat_str(
        [pl.lit(f"{field} is ") + _prompt_value(field) for field in fields],
        separator="; ",
        ignore_nulls=True,
    ).fill_null("")
    instruction = f"The {noun} has the following attributes: \n "
    text = pl.when(attributes == "").then(pl.lit("")).otherwise(pl.lit(instruction) + attributes)
    return items.select(text.alias("text")).to_series()


@dataclass(frozen=True)
class TextRecipe:
    """How item texts are made: a `{field}` template, or (template `llmemb`) LLMEmb's attribute
    prompt over every metadata column except `dropped_keys`, calling the item a `noun`."""

    template: str
    noun: str = "item"
    dropped_keys: tuple[str, ...] = ()

    @property
    def is_prompt(self) -> bool:
        return self.template == LLMEMB_PROMPT

    def fields(self, columns: Sequence[str]) -> list[str]:
        """The metadata columns (of `columns`, in their order) the text reads."""
        if self.is_prompt:
            dropped = set(self.dropped_keys) | set(NOT_METADATA)
            return [column for column in columns if column not in dropped]
        return template_fields(self.template) if self.template else []

    def render(self, items: pl.DataFrame) -> pl.Series:
        """One text per row of `items` (string metadata columns)."""
        if self.is_prompt:
            return render_attribute_prompts(items, self.fields(items.columns), self.noun)
        return render_texts(items, self.template)

    def has_text(self, items: pl.DataFrame) -> pl.Series:
        """Per row: whether any field the text reads is present (False when it reads none)."""
        fields = self.fields(items.columns)
        missing = [field for field in fields if field not in items.columns]
        if missing:
            raise SpecrecError(
                f"text template uses unknown column(s) {missing}; "
                f"available: {', '.join(items.columns)}"
            )
        if not fields:
            return pl.Series("has_text", [False] * items.height, dtype=pl.Boolean)
        return items.select(pl.any_horizontal(*map(present, fields)).alias("has_text")).to_series()


def choose_text_recipe(reader: Source, files: dict[str, Path], columns: dict[str, str] | None,
                       text_template: str | None, prompt_noun: str | None) -> TextRecipe:
    """The template given (else the source's default), or LLMEmb's prompt for the name `llmemb`
    (the source's noun unless `prompt_noun` names it, and the source's dropped keys)."""
    if text_template != LLMEMB_PROMPT:
        if prompt_noun is not None:
            raise SpecrecError("--prompt-noun names the item in --text-template llmemb; "
                               "drop it or add --text-template llmemb")
        template = text_template
        if template is None:
            template = reader.default_template(files, columns)
        parse_template(template)
        return TextRecipe(template)
    if "items" not in files:
        raise SpecrecError(f"--text-template llmemb lists the item metadata, but source "
                           f"{reader.name} found no item file; pass it or choose another template")
    noun = reader.prompt_noun(files) if prompt_noun is None else prompt_noun.strip()
    if not noun or "\n" in noun:
        raise SpecrecError(f"--prompt-noun must be one non-empty line of text, got {prompt_noun!r}")
    return TextRecipe(LLMEMB_PROMPT, noun, reader.prompt_dropped_keys)
