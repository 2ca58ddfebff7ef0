"""Long-tail groups (tail/head items, short/long users) against hand computations."""

import json
import math

import numpy as np
import pytest

from specrec.cli import main
from specrec.data.dataset import load_dataset
from specrec.evaluate.groups import GroupThresholds, group_metrics, item_counts
from specrec.evaluate.store import read_evaluation
from specrec.testing.pipeline import tiny_run
from specrec.testing.synthetic import write_sequences

# loo: the last item is the test target, the second last the valid target, the rest train
SEQUENCES = [
    [1, 2, 3, 4, 5],        # target 5, history 4
    [1, 2, 1, 2, 3, 1],     # target 1, history 5
    [2, 3, 4],              # target 4, history 2
    [1, 3, 2, 6, 1, 2, 3],  # target 3, history 6
    [5, 6, 5, 2],           # target 2, history 3
    [6, 1, 6],              # target 6, history 2
]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = tmp_path_factory.mktemp("groups") / "data"
    write_sequences(path, SEQUENCES, n_items=6)
    return load_dataset(path)


def test_item_counts_by_hand(data):
    # training events: [1,2,3], [1,2,1,2], [2], [1,3,2,6,1], [5,6], [6]
    assert item_counts(data, "train").tolist() == [0, 5, 5, 2, 0, 1, 3]
    # users whose sequence holds the item, any split, once each
    assert item_counts(data, "sequences").tolist() == [0, 4, 5, 4, 2, 2, 3]


def test_group_metrics_by_hand(data):
    events = data.targets("test")
    assert data.items[events].tolist() == [5, 1, 4, 3, 2, 6]
    ranks = np.array([1, 3, 2, 8, 4, 1])
    groups = group_metrics(data, events, ranks, [1, 4], GroupThresholds(3, 5, "train"))
    # train counts of the targets 5, 1, 4, 3, 2, 6: 1, 5, 0, 2, 5, 3 -> head (>= 3): 1, 2, 6
    tail, head = groups["item"]["tail"], groups["item"]["head"]
    assert (tail["n_users"], head["n_users"]) == (3, 3)
    assert tail["rule"] == "train count < 3" and head["rule"] == "train count >= 3"
    assert tail["metrics"]["hit@1"] == pytest.approx(1 / 3)  # ranks 1, 2, 8
    assert tail["metrics"]["ndcg@4"] == pytest.approx((1 + 1 / math.log2(3)) / 3)
    assert head["metrics"]["mrr@4"] == pytest.approx((1 / 3 + 1 / 4 + 1) / 3)  # ranks 3, 4, 1
    # histories 4, 5, 2, 6, 3, 2 -> long (>= 5): the second and fourth users
    short, long = groups["user"]["short"], groups["user"]["long"]
    assert (short["n_users"], long["n_users"]) == (4, 2)
    assert short["metrics"]["hit@1"] == pytest.approx(2 / 4)  # ranks 1, 2, 4, 1
    assert long["metrics"]["hit@4"] == pytest.approx(1 / 2)  # ranks 3, 8
    assert groups["thresholds"]["head_item_min"] == 3 and groups["thresholds"]["long_user_min"] == 5


def test_sequence_counts_and_an_empty_group(data):
    events = data.targets("test")
    groups = group_metrics(data, events, np.array([1, 3, 2, 8, 4, 1]), [1],
                           GroupThresholds(2, 100, "sequences"))
    # counts of the targets 5, 1, 4, 3, 2, 6 over whole sequences: 2, 4, 2, 4, 5, 3: all head
    assert groups["item"]["tail"] == {"rule": "sequences count < 2", "n_users": 0, "metrics": {}}
    assert groups["item"]["head"]["n_users"] == 6
    assert groups["user"]["long"]["n_users"] == 0 and groups["user"]["short"]["n_users"] == 6


def test_evaluate_groups_agree_with_the_ranks_it_wrote(data, tmp_path):
    run = tiny_run(tmp_path / "run", data.path)
    main(["evaluate", str(run), "--out", str(tmp_path / "e"), "--groups", "--head-item-min", "3",
          "--long-user-min", "5", "--k", "2", "--device", "cpu"])
    record = json.loads((tmp_path / "e" / "metrics.json").read_text())
    groups = record["groups"]
    assert groups["thresholds"] == GroupThresholds(3, 5, "train").record()
    users, ranks = read_evaluation(tmp_path / "e").ranks()
    assert users.tolist() == [1, 2, 3, 4, 5, 6]
    by_hand = {"tail": [0, 2, 3], "head": [1, 4, 5], "short": [0, 2, 4, 5], "long": [1, 3]}
    for dimension, name in (("item", "tail"), ("item", "head"), ("user", "short"),
                            ("user", "long")):
        members = ranks[by_hand[name]]
        assert groups[dimension][name]["n_users"] == len(members)
        assert groups[dimension][name]["metrics"]["hit@2"] == pytest.approx(np.mean(members <= 2))
    assert read_evaluation(tmp_path / "e").groups == groups
