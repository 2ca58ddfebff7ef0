"""LLMEmb's attribute-level augmentation: the split rule, ⌊0.4·m⌋ dropped, seeded shuffles."""

from __future__ import annotations

import numpy as np
import pytest

from specrec.finetune.pairs import PairBatches, drop_count, split_attributes, two_views

ML100K_TEXT = "Toy Story (1995). Genres: Animation Children's Comedy"  # the bundled template's
LLMEMB_PROMPT = (
    "The beauty item has the following attributes: \n name is Lip Gloss; brand is Acme; "
    "price is 9.99; categories is Beauty, Makeup, Lips; description is shiny"
)


def test_a_prompt_splits_at_its_newline_then_on_semicolons():
    split = split_attributes(LLMEMB_PROMPT)
    assert split.instruction == "The beauty item has the following attributes: \n"
    assert split.attributes == (" name is Lip Gloss", " brand is Acme", " price is 9.99",
                                " categories is Beauty, Makeup, Lips", " description is shiny")
    assert split.join(list(split.attributes)) == LLMEMB_PROMPT


def test_specrec_texts_split_on_semicolons_else_on_the_field_separator():
    assert split_attributes(ML100K_TEXT).attributes == (
        "Toy Story (1995)", "Genres: Animation Children's Comedy"
    )
    labelled = split_attributes("title: Heat; year: 1995; genres: Action")
    assert (labelled.instruction, labelled.separator) == ("", ";")
    assert labelled.attributes == ("title: Heat", " year: 1995", " genres: Action")
    assert split_attributes("Heat").attributes == ("Heat",)
    assert split_attributes("").attributes == ("",)


@pytest.mark.parametrize(
    ("m", "dropped"), [(1, 0), (2, 0), (3, 1), (4, 1), (5, 2), (6, 2), (7, 2), (8, 3), (10, 4)]
)
def test_a_view_drops_floor_of_0_4_m_attributes(m, dropped):
    assert drop_count(m, 0.4) == dropped
    text = "; ".join(f"a{i}" for i in range(m))
    first, second = two_views(text, np.random.default_rng(m), 0.4)
    for view in (first, second):
        kept = [part.strip() for part in view.split(";")]
        assert len(kept) == m - dropped and len(set(kept)) == len(kept)
        assert set(kept) <= {f"a{i}" for i in range(m)}


def test_float_error_does_not_lose_an_attribute():
    assert drop_count(100, 0.29) == 29  # 0.29 · 100 = 28.999999999999996 in floating point
    assert drop_count(10, 0.0) == 0


def test_the_two_views_are_shuffled_independently_and_seeded():
    text = "; ".join(f"a{i}" for i in range(10))
    pairs = [two_views(text, np.random.default_rng(seed), 0.4) for seed in range(50)]
    assert pairs == [two_views(text, np.random.default_rng(seed), 0.4) for seed in range(50)]
    # two views of 6 of 10 attributes coincide with probability 1/151200
    assert all(first != second for first, second in pairs)
    assert len({first for first, _ in pairs}) == 50  # each seed draws its own permutation


def test_batches_visit_every_item_once_per_epoch_and_depend_on_seed_and_step_only():
    texts = [f"item {i}. genre {i % 3}" for i in range(10)]
    batches = PairBatches(texts, batch_size=3, seed=7, drop_ratio=0.4)
    assert batches.per_epoch == 3  # ⌊10/3⌋: the permutation's last item sits out the epoch
    epoch = np.concatenate([batches.items(step) for step in range(3)])
    assert len(set(epoch.tolist())) == 9
    again = PairBatches(texts, batch_size=3, seed=7, drop_ratio=0.4)
    assert [again.views(step) for step in (5, 2)] == [batches.views(5), batches.views(2)]
    other = PairBatches(texts, batch_size=3, seed=8, drop_ratio=0.4)
    assert [other.items(s).tolist() for s in range(3)] != [batches.items(s).tolist()
                                                           for s in range(3)]
    first, second = batches.views(0)
    for index, one, two in zip(batches.items(0), first, second):  # m = 2: both attributes kept
        attributes = sorted(texts[index].split(". "))
        assert sorted(one.split(". ")) == sorted(two.split(". ")) == attributes


def test_a_batch_never_exceeds_the_items():
    batches = PairBatches(["a. b", "c. d", "e. f"], batch_size=64, seed=0, drop_ratio=0.4)
    assert batches.batch_size == 3 and sorted(batches.items(4).tolist()) == [0, 1, 2]
