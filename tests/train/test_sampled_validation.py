"""`train --valid-protocol sampled`: early stopping on a sampled validation ranking whose negatives
are drawn once per run, recorded in the run, and the same as `evaluate`'s on the valid split."""

import json

import pytest
import torch

import specrec.evaluate.sampling as sampling
from specrec.cli import main
from specrec.errors import SpecrecError
from specrec.evaluate.evaluate import evaluate
from specrec.runs.config import TrainConfig
from specrec.testing.pipeline import quiet, tiny_config, tiny_dataset
from specrec.train.train import train

SAMPLED = {"valid_protocol": "sampled", "valid_negatives": 10, "valid_sampler": "popularity",
           "valid_sample_seed": 4}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models train fastest on one thread
    yield tiny_dataset(tmp_path_factory.mktemp("sampled-valid") / "data")
    torch.set_num_threads(before)


def test_sampled_validation_early_stops_records_and_matches_evaluate(dataset, tmp_path,
                                                                     monkeypatch):
    drawn = []
    original = sampling.Ranking.negatives_for

    def counting(self, *args, **kwargs):
        negatives = original(self, *args, **kwargs)
        drawn.append(negatives)
        return negatives

    monkeypatch.setattr(sampling.Ranking, "negatives_for", counting)
    config = tiny_config(epochs=40, patience=1, lr=0.05, **SAMPLED)
    meta = train(dataset=dataset, out=tmp_path / "run", config=config, device="cpu", log=quiet)
    assert meta.stats["early_stopped"] and meta.stats["epochs"] < 40
    assert len(drawn) == 1 and drawn[0].shape == (40, 10)  # one draw for every epoch
    record = json.loads((tmp_path / "run" / "config.json").read_text())
    assert {key: record[key] for key in SAMPLED} == SAMPLED
    assert TrainConfig.from_record(record).valid_ranking().label() == "sampled-10, popularity"
    again = evaluate(run=tmp_path / "run", out=tmp_path / "eval", split="valid",
                     protocol="sampled", negatives=10, sampler="popularity", sample_seed=4,
                     device="cpu", log=quiet)
    best = meta.stats["best_valid"]
    assert {name: again.stats["metrics"][name] for name in best} == best


def test_full_validation_is_the_default_and_records_it(dataset, tmp_path):
    meta = train(dataset=dataset, out=tmp_path / "run", config=tiny_config(), device="cpu",
                 log=quiet)
    record = json.loads((tmp_path / "run" / "config.json").read_text())
    assert "valid_protocol" not in record and meta.stats["epochs"] == 2  # full: not recorded
    full = evaluate(run=tmp_path / "run", out=tmp_path / "eval", split="valid", device="cpu",
                    log=quiet)
    best = meta.stats["best_valid"]
    assert {name: full.stats["metrics"][name] for name in best} == best
    assert TrainConfig.from_record(record).valid_ranking() == sampling.Ranking()


@pytest.mark.parametrize("changes, message", [
    ({"valid_negatives": -1}, "--valid-negatives must be >= 1"),
    ({"valid_protocol": "sampled", "valid_sampler": "zipf"}, "unknown negative sampler"),
    ({"valid_protocol": "sampled", "valid_negatives": 0}, "--valid-negatives must be >= 1"),
    ({"valid_protocol": "top"}, "unknown --valid-protocol"),
])
def test_bad_validation_rankings_are_refused(changes, message):
    with pytest.raises(SpecrecError, match=message):
        TrainConfig(**changes).validate()


def test_each_validation_option_passes_alone_as_plans_check_them():
    for name, value in {**SAMPLED, "valid_negatives": 50}.items():
        TrainConfig(**{name: value}).validate()


def test_too_many_validation_negatives_is_one_line_exit_2(dataset, tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--dataset", str(dataset), "--out", str(tmp_path / "run"), "--dim", "8",
              "--max-len", "6", "--epochs", "1", "--device", "cpu", "--valid-protocol",
              "sampled", "--valid-negatives", "1000"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert info.value.code == 2 and len(lines) == 1 and "--valid-negatives 1000" in lines[0]
    assert "or fewer" in lines[0] and list(tmp_path.iterdir()) == []  # not even run.partial


def test_train_cli_labels_the_sampled_validation(dataset, tmp_path, capsys):
    main(["train", "--dataset", str(dataset), "--out", str(tmp_path / "run"), "--dim", "8",
          "--max-len", "6", "--epochs", "1", "--device", "cpu", "--valid-protocol", "sampled",
          "--valid-negatives", "5"])
    output = " ".join(capsys.readouterr().out.split())
    assert "best validation (sampled-5, uniform)" in output


def test_full_sort_runs_record_no_sampling_fields_so_their_fingerprints_stay():
    from specrec.runs.config import VALID_SAMPLING, TrainConfig

    full = TrainConfig()
    full.validate()
    assert set(full.record()) == {  # what every run recorded before sampled validation existed
        "backbone", "backbone_options", "batch_size", "dim", "embedder_options", "epochs", "ks",
        "loss", "loss_options", "lr", "max_len", "patience", "samples", "seed", "temperature",
        "valid_metric", "weight_decay", "window_jitter", "window_stride"}
    sampled = TrainConfig(valid_protocol="sampled", valid_negatives=50)
    sampled.validate()
    assert {name: sampled.record()[name] for name in VALID_SAMPLING} == {
        "valid_protocol": "sampled", "valid_negatives": 50, "valid_sampler": "uniform",
        "valid_sample_seed": 0}
    assert TrainConfig.from_record(full.record()) == full  # the defaults come back
