"""Selection on validation (never test), the one-tailed paired t-test and its star."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from specrec.errors import SpecrecError
from specrec.report import report
from specrec.report.inputs import load_inputs
from specrec.report.selection import select, significance
from specrec.report.stats import beats_all, one_tailed_ttest

ACE = "sasrec · ace encoder=minilm"


def planted(selection, number: int) -> list[dict]:
    """What the fixture planted for row `number` of its grid, one entry per seed."""
    return selection.grid[number]["seeds"]


def grid_rows(selection, dataset: str, backbone: str, method: str) -> list[int]:
    return [i for i, entry in enumerate(selection.grid)
            if entry["row"][:3] == (dataset, backbone, method)]


def selected_rows(selection, dataset: str = "ml-test") -> dict[str, dict[str, str]]:
    with open(selection.out / "selected.csv", newline="") as handle:
        return {r["label"]: r for r in csv.DictReader(handle) if r["dataset"] == dataset}


def mean_of(entries: list[dict], metric: str) -> float:
    return float(np.mean([entry["metrics"][metric] for entry in entries]))


def test_the_best_test_score_with_the_worst_validation_score_is_not_selected(selection):
    ace = grid_rows(selection, "ml-test", "sasrec", "ace")[:4]  # λ = 0, 10, 50, 100 on minilm
    test = {i: mean_of(planted(selection, i), "ndcg@10") for i in ace}
    valid = {i: np.mean([e["valid"] for e in planted(selection, i)]) for i in ace}
    planted_worst = ace[3]
    assert max(test, key=test.get) == planted_worst and min(valid, key=valid.get) == planted_worst
    row = selected_rows(selection)[ACE]
    assert row["selected"] == "λ=50" and row["configs"] == "4" and row["seeds"] == "0, 1"
    for metric in ("recall@10", "ndcg@10", "ndcg@20"):
        assert float(row[metric]) == mean_of(planted(selection, ace[2]), metric)
    assert float(row["ndcg@10_std"]) == pytest.approx(
        np.std([e["metrics"]["ndcg@10"] for e in planted(selection, ace[2])], ddof=1), rel=1e-12)
    assert float(row["valid"]) == pytest.approx(valid[ace[2]], rel=1e-12)


def test_id_only_keeps_the_learning_rate_that_wins_on_validation(selection):
    low, high = grid_rows(selection, "ml-test", "sasrec", "id")
    assert mean_of(planted(selection, high), "ndcg@10") > mean_of(planted(selection, low),
                                                                  "ndcg@10")
    row = selected_rows(selection)["sasrec · ID-only"]
    assert row["selected"] == "lr=0.001" and row["configs"] == "2"
    assert float(row["ndcg@10"]) == mean_of(planted(selection, low), "ndcg@10")
    one = selected_rows(selection)["sasrec · pca"]
    assert one["selected"] == "–" and one["configs"] == "1"  # nothing to choose between


def test_each_backbone_encoder_and_dataset_is_a_group_of_its_own(selection):
    labels = list(selected_rows(selection))
    assert labels == ["sasrec · ID-only", "sasrec · pca", ACE, "sasrec · ace encoder=e5",
                      "gru4rec · ID-only", "gru4rec · ace"]
    assert list(selected_rows(selection, "ml-other")) == ["sasrec · ID-only", "sasrec · pca",
                                                          "sasrec · ace"]
    assert selection.meta.stats["selected_rows"] == 9 and selection.meta.config["select"]


def test_another_validation_metric_can_select(selection):
    from specrec.runs.store import read_run

    choices = select(load_inputs(selection.evaluations).evaluations, "recall@10")
    ace = next(c for c in choices if c.label == ACE)
    means = [np.mean([read_run(e.run_path).best_valid["recall@10"] for e in config.evaluations])
             for config in ace.configs]
    assert ace.chosen == int(np.argmax(means)) and ace.valid_metric == "recall@10"


def per_user(entries: list[dict], metric: str) -> np.ndarray:
    """Per-user values (users 1..60, all evaluated) averaged over seeds, without specrec code."""
    name, k = metric.split("@")
    values = []
    for entry in entries:
        ranks = np.asarray(entry["ranks"], dtype=np.float64)
        hit = ranks <= int(k)
        values.append(np.where(hit, 1.0 / np.log2(ranks + 1.0), 0.0) if name == "ndcg"
                      else hit.astype(np.float64))
    return np.mean(values, axis=0)


def test_p_against_the_best_is_scipys_one_tailed_test_on_per_user_values(selection):
    rows = selected_rows(selection, "ml-other")
    ace, pca, base = (
        per_user(planted(selection, grid_rows(selection, "ml-other", "sasrec", m)[0]), "ndcg@10")
        for m in ("ace", "pca", "id"))
    for label, other in (("sasrec · pca", pca), ("sasrec · ID-only", base)):
        expected = scipy_stats.ttest_rel(ace, other, alternative="greater").pvalue
        assert float(rows[label]["p (best > row)"]) == pytest.approx(expected, rel=1e-12)
    assert rows["sasrec · ace"]["p (best > row)"] == ""
    # ACE is best on ml-other but not significantly better than PCA: no star
    assert float(rows["sasrec · pca"]["p (best > row)"]) > 0.05
    assert rows["sasrec · ace"]["ndcg@10_star"] == "0"


def test_one_tailed_test_equals_scipy_and_the_star_needs_every_baseline_beaten():
    rng = np.random.default_rng(0)
    users = np.arange(1, 201)
    best = rng.random(200)
    beaten = [best - 0.05 - 0.05 * rng.random(200), best - 0.02 + 0.05 * rng.normal(size=200)]
    close = best + 0.3 * rng.normal(size=200)
    for other in [*beaten, close]:
        # the other row lacks users 1-10: the test pairs the 190 users both evaluated
        p = one_tailed_ttest((users, best), (users[10:], other[10:]))
        expected = scipy_stats.ttest_rel(best[10:], other[10:], alternative="greater").pvalue
        assert p == expected
    assert one_tailed_ttest((users, best), (users, close)) > 0.05
    pvalues, star = beats_all((users, best), [(users, x) for x in [*beaten, close]])
    assert [p < 0.05 for p in pvalues] == [True, True, False] and not star  # 2 of 3: no star
    pvalues, star = beats_all((users, best), [(users, x) for x in beaten])
    assert all(p < 0.05 for p in pvalues) and star  # every baseline beaten: star
    assert beats_all((users, best), []) == ([], False)
    assert math.isnan(one_tailed_ttest((users, best), (users, best)))


def test_significance_tests_the_columns_first_best_against_every_other_row():
    users = np.arange(1, 101)
    rng = np.random.default_rng(4)
    values = {0: rng.random(100), 1: rng.random(100) + 0.5, 2: rng.random(100)}
    means = {i: float(v.mean()) for i, v in values.items()}
    best, pvalues, star = significance(means, lambda i, metric: (users, values[i]), "ndcg@10")
    assert best == 1 and sorted(pvalues) == [0, 2] and star
    for i in (0, 2):
        assert pvalues[i] == scipy_stats.ttest_rel(values[1], values[i],
                                                   alternative="greater").pvalue


def test_valid_metric_needs_select_and_a_metric_every_run_has(selection, tmp_path):
    with pytest.raises(SpecrecError, match="add --select"):
        report(inputs=selection.evaluations[:2], out=tmp_path / "a", valid_metric="ndcg@10")
    with pytest.raises(SpecrecError, match="has no validation hit@3"):
        report(inputs=selection.evaluations[:2], out=tmp_path / "b", select=True,
               valid_metric="hit@3")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_selection_needs_every_evaluated_run(world, tmp_path):
    # eval-ace-1's run was deleted after it was evaluated
    with pytest.raises(SpecrecError, match="needs the validation metrics of every evaluated run"):
        report(inputs=world.evaluations, out=tmp_path / "out", select=True)
