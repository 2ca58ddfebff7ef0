"""`evaluate --protocol sampled`: ranks among the target and its negatives by hand, equality with
the history-masked full sort when every allowed item is a negative, records, one-line errors."""

import json

import numpy as np
import pytest
import torch

from specrec.cli import main
from specrec.errors import SpecrecError
from specrec.evaluate.evaluate import evaluate
from specrec.evaluate.ranking import candidate_ranks, target_ranks
from specrec.evaluate.store import read_evaluation
from specrec.testing.pipeline import quiet, tiny_run
from specrec.testing.synthetic import write_sequences

N_ITEMS, LENGTH = 20, 6


def _table(rows):
    return torch.tensor([[0.0, 0.0]] + rows)


def test_candidate_ranks_by_hand_with_pessimistic_ties_and_bias():
    # items 1..5 score 3, 5, 5, 1, 2 for the user (1, 0)
    table = _table([[3, 0], [5, 0], [5, 0], [1, 0], [2, 0]])
    user = torch.tensor([[1.0, 0.0]] * 3)
    targets = torch.tensor([1, 2, 4])
    negatives = torch.tensor([[2, 4, 5], [3, 1, 4], [1, 5, 2]])
    # 1 among (5, 1, 2): one higher -> 2; 2 ties with 3 -> 2; 4 (1) below 3, 2, 5 -> 4
    assert candidate_ranks(user, table, targets, negatives).tolist() == [2, 2, 4]
    bias = torch.tensor([0.0, 0.0, 0.0, 0.0, 2.5, 0.0])  # item 4 now scores 3.5:
    # 1 (3) below 2 and 4 -> 3; 2 unchanged -> 2; 4 (3.5) below 2 only -> 2
    assert candidate_ranks(user, table, targets, negatives, bias=bias).tolist() == [3, 2, 2]


def test_candidate_ranks_equal_the_masked_full_sort_over_the_same_candidates():
    gen = torch.Generator().manual_seed(0)
    table = torch.randint(-3, 4, (31, 4), generator=gen).float()  # integers: exact scores, ties
    table[0] = 0
    user = torch.randint(-2, 3, (12, 4), generator=gen).float()
    targets, histories, negatives = [], [], []
    for row in range(12):
        order = torch.randperm(30, generator=gen) + 1
        targets.append(order[0])
        histories.append(order[1:9])  # 8 earlier items, never the target
        negatives.append(order[9:])  # every other item
    targets, histories, negatives = map(torch.stack, (targets, histories, negatives))
    full = target_ranks(user, table, targets, exclude=histories)
    assert torch.equal(candidate_ranks(user, table, targets, negatives), full)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Users with LENGTH distinct items each (so every user has N_ITEMS - LENGTH left), a run."""
    root = tmp_path_factory.mktemp("sampled")
    rng = np.random.default_rng(4)
    sequences = [list(map(int, rng.permutation(N_ITEMS)[:LENGTH] + 1)) for _ in range(30)]
    write_sequences(root / "data", sequences, n_items=N_ITEMS)
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models train fastest on one thread
    yield root, tiny_run(root / "run", root / "data"), sequences
    torch.set_num_threads(before)


def test_every_allowed_item_as_negative_equals_the_masked_full_sort(world, tmp_path):
    root, run, _ = world
    full = evaluate(run=run, out=tmp_path / "full", mask_history=True, ks=[1, 5], device="cpu",
                    log=quiet)
    sampled = evaluate(run=run, out=tmp_path / "sampled", protocol="sampled",
                       negatives=N_ITEMS - LENGTH, ks=[1, 5], device="cpu", log=quiet)
    full_ranks = read_evaluation(tmp_path / "full").ranks()
    sampled_ranks = read_evaluation(tmp_path / "sampled").ranks()
    assert np.array_equal(full_ranks[0], sampled_ranks[0])
    assert np.array_equal(full_ranks[1], sampled_ranks[1])
    for k in (1, 5):
        assert sampled.stats["metrics"][f"hit@{k}"] == full.stats["metrics"][f"recall@{k}"]


def test_sampled_ranks_lie_among_the_candidates_and_are_recorded(world, tmp_path):
    root, run, _ = world
    meta = evaluate(run=run, out=tmp_path / "e", protocol="sampled", negatives=5,
                    sampler="popularity", sample_seed=3, device="cpu", log=quiet)
    ranking = {"protocol": "sampled", "negatives": 5, "sampler": "popularity", "seed": 3}
    record = json.loads((tmp_path / "e" / "metrics.json").read_text())
    assert record["ranking"] == ranking and record["protocol"] == "loo"
    assert meta.config["ranking"] == ranking and "groups" not in meta.config
    _, ranks = read_evaluation(tmp_path / "e").ranks()
    assert ranks.min() >= 1 and ranks.max() <= 6
    again = evaluate(run=run, out=tmp_path / "e2", protocol="sampled", negatives=5,
                     sampler="popularity", sample_seed=3, batch_size=7, device="cpu", log=quiet)
    assert again.stats["metrics"] == meta.stats["metrics"]  # batch size changes nothing


def test_the_default_full_sort_records_no_new_config(world, tmp_path):
    root, run, _ = world
    meta = evaluate(run=run, out=tmp_path / "e", device="cpu", log=quiet)
    assert set(meta.config) == {"split", "ks", "mask_history", "tie_rule"}  # fingerprint as before
    record = json.loads((tmp_path / "e" / "metrics.json").read_text())
    assert record["ranking"] == {"protocol": "full"} and "groups" not in record


def _run(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    captured = capsys.readouterr()
    return info.value.code, captured.out, captured.err


def test_too_many_negatives_through_the_cli_is_one_line_exit_2(world, tmp_path, capsys):
    root, run, _ = world
    largest = N_ITEMS - LENGTH
    code, _, err = _run(["evaluate", str(run), "--out", str(tmp_path / "e"), "--protocol",
                         "sampled", "--negatives", str(largest + 1), "--device", "cpu"], capsys)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: ")
    assert f"use --negatives {largest} or fewer" in lines[0]
    assert list(tmp_path.iterdir()) == []  # no artifact, no temporary sibling, no lock


def test_sampled_cli_title_says_so(world, tmp_path, capsys):
    root, run, _ = world
    main(["evaluate", str(run), "--out", str(tmp_path / "e"), "--protocol", "sampled",
          "--negatives", "10", "--sampler", "popularity", "--device", "cpu"])
    assert "(sampled-10, popularity)" in " ".join(capsys.readouterr().out.split())  # may wrap


@pytest.mark.parametrize("changes, message", [
    ({"negatives": 10}, "apply to --protocol sampled only"),
    ({"protocol": "sampled", "mask_history": True}, "--mask-history is for --protocol full"),
    ({"protocol": "sorted"}, "unknown --protocol"),
    ({"head_item_min": 3}, "apply with --groups only"),
    ({"groups": True, "item_counts": "all"}, "unknown --item-counts"),
    ({"groups": True, "long_user_min": 0}, "--long-user-min must be >= 1"),
])
def test_misused_options_are_errors_that_write_nothing(world, tmp_path, changes, message):
    root, run, _ = world
    with pytest.raises(SpecrecError, match=message):
        evaluate(run=run, out=tmp_path / "e", device="cpu", log=quiet, **changes)
    assert not (tmp_path / "e").exists()
