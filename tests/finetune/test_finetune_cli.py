"""`specrec finetune` and `embed --adapter` on the command line; errors: one line, exit 2."""

from __future__ import annotations

import pytest

from specrec.cli import main
from specrec.embed.partial import partial_root
from specrec.embed.store import open_embeddings
from specrec.finetune.store import read_finetune


def test_finetune_then_embed_adapter(tmp_path, dataset, llama_dir, capsys):
    ft, emb = tmp_path / "ft", tmp_path / "emb"
    main(["finetune", "--dataset", str(dataset), "--model", str(llama_dir), "--out", str(ft),
          "--steps", "4", "--batch-size", "4", "--lr", "1e-3", "--seed", "3", "--max-length", "64",
          "--drop-ratio", "0.5", "--lora-r", "4", "--lora-alpha", "16", "--lora-dropout", "0.05",
          "--target-modules", "q_proj,v_proj", "--save-every", "2", "--device", "cpu"])  # fmt: skip
    printed = capsys.readouterr().out
    assert "loss (first 5)" in printed and "τ" in printed
    recipe = read_finetune(ft).recipe
    assert recipe["lora"] == {"r": 4, "alpha": 16.0, "dropout": 0.05,
                              "target_modules": ["q_proj", "v_proj"], "exclude_modules": []}
    assert (recipe["steps"], recipe["batch_size"], recipe["lr"], recipe["seed"]) == (4, 4, 1e-3, 3)
    assert (recipe["max_length"], recipe["drop_ratio"], recipe["device"]) == (64, 0.5, "cpu")
    main(["embed", "--dataset", str(dataset), "--adapter", str(ft), "--out", str(emb),
          "--device", "cpu"])  # fmt: skip
    attrs = open_embeddings(emb).attrs
    assert (attrs["adapter"], attrs["max_length"]) == (read_finetune(ft).meta.fingerprint, 64)
    assert (attrs["model"], attrs["pooling"], attrs["append_eos"]) == (str(llama_dir), "mean", True)


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("not-a-model", "is not a Hugging Face model folder"),
        ("unknown-architecture", "cannot build model"),
        ("missing-target", "target module(s) nope do not exist in model"),
        ("bad-ratio", "--drop-ratio must be in [0, 1)"),
    ],
)
def test_finetune_errors_exit_2_with_one_line_and_write_nothing(
    tmp_path, dataset, llama_dir, capsys, case, message
):
    folder = tmp_path / "not-a-model"
    folder.mkdir()
    (folder / "weights.bin").write_bytes(b"\0" * 16)
    unknown = tmp_path / "unknown-architecture"
    unknown.mkdir()
    (unknown / "config.json").write_text('{"model_type": "no-such-architecture"}')
    for name in ("tokenizer.json", "tokenizer_config.json"):  # a tokenizer that loads
        (unknown / name).write_bytes((llama_dir / name).read_bytes())
    args = {
        "not-a-model": ["--model", str(folder)],
        "unknown-architecture": ["--model", str(unknown)],
        "missing-target": ["--model", str(llama_dir), "--target-modules", "q_proj,nope"],
        "bad-ratio": ["--model", str(llama_dir), "--drop-ratio", "1"],
    }[case]
    out = tmp_path / "ft"
    with pytest.raises(SystemExit) as info:
        main(["finetune", "--dataset", str(dataset), "--out", str(out), "--device", "cpu", *args])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err
    assert not out.exists() and not list(tmp_path.glob("ft.tmp-*"))
    assert not partial_root(out).exists()


def test_embed_adapter_and_from_file_exclude_each_other(tmp_path, dataset, capsys):
    vectors = tmp_path / "vectors.npy"
    vectors.write_bytes(b"")
    with pytest.raises(SystemExit) as info:
        main(["embed", "--dataset", str(dataset), "--from-file", str(vectors), "--adapter",
              str(tmp_path / "ft"), "--out", str(tmp_path / "emb")])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert info.value.code == 2 and "pass exactly one of" in err and "\n" not in err
