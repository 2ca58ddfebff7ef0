"""`specrec train`: thin CLI wrapper around `specrec.train.train.train`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from specrec.cli.app import app
from specrec.cli.options import metrics_table, parse_key_values
from specrec.console import out


@app.command("train")
def train_cli(
    dataset: Path = typer.Option(..., help="Dataset artifact (from `specrec preprocess`)."),
    out_dir: Path = typer.Option(..., "--out", help="Run artifact directory to write."),
    table: Optional[Path] = typer.Option(None, help="Transform artifact; omit for ID-only."),
    backbone: str = typer.Option("sasrec", help="sasrec | gru4rec | bert4rec | hstu."),
    dim: int = typer.Option(64, help="Hidden / item embedding size."),
    max_len: int = typer.Option(50, help="Maximum history length."),
    loss: str = typer.Option("ce", help="ce | bce | infonce | gbce | sampled-softmax."),
    samples: str = typer.Option(
        "windows", help="windows (loss at every position of a window) | prefixes (RecBole)."),
    window_stride: Optional[int] = typer.Option(None, help="Windows: new targets per window (default max-len)."),
    window_jitter: bool = typer.Option(True, help="Windows: shift window boundaries every epoch."),
    batch_size: Optional[int] = typer.Option(
        None, help="Rows per batch (default 256 prefixes, 32 windows)."),
    lr: float = typer.Option(1e-3, help="Adam learning rate."),
    weight_decay: float = typer.Option(0.0, help="Adam weight decay."),
    temperature: Optional[float] = typer.Option(
        None, help="Cosine scoring ⟨û, ê⟩/τ with this τ (HSTU's research code: 0.05); "
        "default: dot products."),
    epochs: int = typer.Option(200, help="Maximum epochs."),
    patience: int = typer.Option(10, help="Early stopping: epochs without a better validation score."),
    valid_metric: str = typer.Option("ndcg@10", help="Validation metric for early stopping."),
    valid_protocol: str = typer.Option(
        "full", help="Validation ranking: full (all items) | sampled (--valid-negatives items)."),
    valid_negatives: int = typer.Option(
        100, help="Sampled validation: negatives per target, none from the user's sequence."),
    valid_sampler: str = typer.Option(
        "uniform", help="Sampled validation: uniform | popularity (∝ training events)."),
    valid_sample_seed: int = typer.Option(
        0, help="Sampled validation: seed of the negatives, drawn once for every epoch."),
    seed: int = typer.Option(0, help="Random seed (init, shuffling, dropout, negatives)."),
    backbone_opt: Optional[list[str]] = typer.Option(None, help="Backbone option KEY=VALUE (repeatable)."),
    loss_opt: Optional[list[str]] = typer.Option(None, help="Loss option KEY=VALUE (repeatable)."),
    embedder_opt: Optional[list[str]] = typer.Option(None, help="Item-embedder option KEY=VALUE."),
    resume: bool = typer.Option(False, help="Continue an interrupted run from its last epoch."),
    force: bool = typer.Option(False, help="Retrain even if the run is up to date."),
    device: str = typer.Option("auto", help="auto | cpu | cuda[:N]."),
    precision: str = typer.Option(
        "auto", help="auto (bf16 autocast on CUDA, float32 on CPU) | fp32 | bf16 (CUDA, or a CPU "
        "with AVX512-BF16/AMX); recorded in the run unless auto."),
    threads: Optional[int] = typer.Option(None, help="torch CPU threads."),
) -> None:
    """Train a backbone ID-only or from a transform table; early-stops on validation."""
    from specrec.runs.config import TrainConfig
    from specrec.train.train import train

    config = TrainConfig(
        backbone=backbone, backbone_options=parse_key_values(backbone_opt, "--backbone-opt"),
        dim=dim, max_len=max_len, loss=loss, loss_options=parse_key_values(loss_opt, "--loss-opt"),
        embedder_options=parse_key_values(embedder_opt, "--embedder-opt"), samples=samples,
        window_stride=window_stride, window_jitter=window_jitter, batch_size=batch_size, lr=lr,
        weight_decay=weight_decay, temperature=temperature,
        epochs=epochs, patience=patience, valid_metric=valid_metric, valid_protocol=valid_protocol,
        valid_negatives=valid_negatives, valid_sampler=valid_sampler,
        valid_sample_seed=valid_sample_seed, seed=seed, precision=precision,
    )
    from specrec.console import log
    from specrec.evaluate.sampling import labelled

    ranking = config.valid_ranking().label()  # "" for the full sort
    metric_label = labelled(valid_metric, ranking)

    def report(row: dict) -> None:
        log(f"epoch {row['epoch']:3d}  loss {row['loss']:.4f}  valid {metric_label} "
            f"{row['valid_' + valid_metric]:.4f}  {row['seconds']:.1f}s  "
            f"{row['targets_per_second']:,.0f} targets/s")

    meta = train(dataset=dataset, out=out_dir, table=table, config=config, resume=resume, force=force,
                 device=device, threads=threads, on_epoch=report)
    stats = meta.stats
    title = labelled("best validation", ranking)
    best_of = f"epoch {stats.get('best_epoch')} of {stats.get('epochs')}"
    out.print(metrics_table(f"{title} ({best_of})", stats.get("best_valid", {})))
