"""LLMEmb's attribute-level augmentation: two independently shuffled, shortened views of each text.

A text is cut into an instruction and an attribute list (`split_attributes`):

- with a "\\n" (LLMEmb's prompts, "The beauty item has the following attributes: \\n name is X;
  brand is Y"): the instruction is everything up to and including the first "\\n", the rest is
  split on ";" and a view rejoins it with ";", as the reference code does;
- without one (specrec's own texts: `preprocess` collapses every newline): no instruction; the
  whole text is the attribute list, split on ";" when it has one (the labelled templates,
  "title: X; brand: Y"), else on ". " (the field separator of the sources' default templates:
  ML-100K's "Toy Story (1995). Genres: Animation Children's Comedy" has two attributes), and a
  view rejoins it with that separator. A text with neither is one attribute.

A view of m attributes is a random permutation of them without its last ⌊ratio·m⌋ entries.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

INSTRUCTION_END = "\n"
ATTRIBUTE_SEPARATOR = ";"
FIELD_SEPARATOR = ". "


@dataclass(frozen=True)
class SplitText:
    """A text as `instruction + separator.join(attributes)`."""

    instruction: str
    attributes: tuple[str, ...]
    separator: str

    def join(self, attributes: list[str]) -> str:
        return self.instruction + self.separator.join(attributes)


def split_attributes(text: str) -> SplitText:
    """The instruction and attribute list of `text` (the rule is in the module docstring)."""
    if INSTRUCTION_END in text:
        head, _, rest = text.partition(INSTRUCTION_END)
        return SplitText(head + INSTRUCTION_END, tuple(rest.split(ATTRIBUTE_SEPARATOR)),
                         ATTRIBUTE_SEPARATOR)
    separator = ATTRIBUTE_SEPARATOR if ATTRIBUTE_SEPARATOR in text else FIELD_SEPARATOR
    return SplitText("", tuple(text.split(separator)), separator)


def drop_count(n_attributes: int, ratio: float) -> int:
    """⌊ratio·m⌋, the attributes a view drops (+1e-9 absorbs float error: 0.29·100 = 28.99…)."""
    return math.floor(ratio * n_attributes + 1e-9)


def two_views(text: str, rng: np.random.Generator, ratio: float) -> tuple[str, str]:
    """Two views of `text`, each an independent permutation of its m attributes cut to the first
    m − ⌊ratio·m⌋, rejoined after the instruction; the first permutation is drawn first."""
    split = split_attributes(text)
    count = len(split.attributes)
    keep = count - drop_count(count, ratio)
    first = [split.attributes[i] for i in rng.permutation(count)[:keep]]
    second = [split.attributes[i] for i in rng.permutation(count)[:keep]]
    return split.join(first), split.join(second)


class PairBatches:
    """The positive pairs of every step, a function of (seed, step) alone, so a resumed run draws
    exactly what an uninterrupted one draws.

    Items are visited in epochs: epoch e is a permutation of the texts seeded by (seed, e), cut
    into ⌊n/B⌋ batches of B = min(batch_size, n) (the tail is left out, so no batch holds an item
    twice: the other items of a batch are its negatives). The views of step s come from a
    generator seeded by (seed, s).
    """

    def __init__(self, texts: list[str], batch_size: int, seed: int, drop_ratio: float) -> None:
        self.texts = texts
        self.batch_size = min(batch_size, len(texts))
        self.per_epoch = len(texts) // self.batch_size
        self.seed = seed
        self.drop_ratio = drop_ratio

    def items(self, step: int) -> np.ndarray:
        """Indices into `texts` of the items of step `step` (0-based)."""
        epoch, batch = divmod(step, self.per_epoch)
        order = np.random.default_rng([self.seed, epoch]).permutation(len(self.texts))
        return order[batch * self.batch_size : (batch + 1) * self.batch_size]

    def views(self, step: int) -> tuple[list[str], list[str]]:
        """(first views, second views) of the items of step `step`, in the same item order."""
        rng = np.random.default_rng([self.seed, step, 1])
        pairs = [two_views(self.texts[i], rng, self.drop_ratio) for i in self.items(step)]
        return [first for first, _ in pairs], [second for _, second in pairs]
