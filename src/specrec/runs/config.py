"""`TrainConfig`: every option that changes a run's result, validated before fingerprinting."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

import specrec.models.backbones  # noqa: F401  (registers backbones)
from specrec.errors import SpecrecError
from specrec.evaluate.metrics import parse_metric
from specrec.evaluate.sampling import Ranking
from specrec.models.base import BACKBONES
from specrec.precision import check_precision

SAMPLE_MODES = ("prefixes", "windows")
VALID_SAMPLING = ("valid_protocol", "valid_negatives", "valid_sampler", "valid_sample_seed")
RUN_INPUT_OPTIONS = ("teacher",)  # embedder options that name another run (an input of this one)


@dataclass
class TrainConfig:
    """Every option that changes a run's result (recorded in config.json and the fingerprint)."""

    backbone: str = "sasrec"
    backbone_options: dict = field(default_factory=dict)
    dim: int = 64
    max_len: int = 50
    loss: str = "ce"
    loss_options: dict = field(default_factory=dict)
    embedder_options: dict = field(default_factory=dict)
    samples: str = "windows"  # matches prefixes' accuracy at ~24× the speed (bench/results)
    window_stride: int | None = None
    window_jitter: bool = True  # windows: move boundaries by a seeded random shift each epoch
    batch_size: int | None = None  # rows per batch; None: 256 prefixes (RecBole), 32 windows
    lr: float = 1e-3
    weight_decay: float = 0.0
    temperature: float | None = None  # cosine scoring ⟨û, ê⟩/τ (HSTU's research code: 0.05)
    epochs: int = 200
    patience: int = 10
    valid_metric: str = "ndcg@10"
    valid_protocol: str = "full"  # or "sampled": the target among valid_negatives sampled items
    valid_negatives: int = 100
    valid_sampler: str = "uniform"
    valid_sample_seed: int = 0  # one draw of negatives, the same every epoch
    ks: list[int] = field(default_factory=lambda: [10, 20])
    seed: int = 0
    precision: str = "auto"  # auto: bf16 autocast on CUDA, float32 on CPU; fp32; bf16 (either)

    @classmethod
    def from_record(cls, record: dict) -> "TrainConfig":
        """The config a run recorded (its config.json); keys that are not options are ignored."""
        return cls(**{f.name: record[f.name] for f in fields(cls) if f.name in record})

    def validate(self) -> None:
        """Check every option and resolve mode-dependent defaults (before fingerprinting)."""
        BACKBONES.get(self.backbone)
        if self.samples not in SAMPLE_MODES:
            raise SpecrecError(f"unknown --samples '{self.samples}'; choose one of {SAMPLE_MODES}")
        if self.batch_size is None:
            # a window carries up to max_len targets: 32 windows ≈ 1,500 targets per step
            self.batch_size = 256 if self.samples == "prefixes" else 32
        for name, value in (("batch size", self.batch_size), ("epochs", self.epochs),
                            ("patience", self.patience), ("dim", self.dim),
                            ("max length", self.max_len)):
            if value < 1:
                raise SpecrecError(f"{name} must be >= 1, not {value}")
        if not self.lr > 0:
            raise SpecrecError(f"learning rate must be > 0, not {self.lr}")
        if self.temperature is not None and not self.temperature > 0:
            raise SpecrecError(
                f"--temperature must be > 0, not {self.temperature} (omit it for dot products)"
            )
        parse_metric(self.valid_metric)
        check_precision(self.precision)
        self.valid_ranking().check("--valid-")
        if any(k < 1 for k in self.ks):
            raise SpecrecError("every K must be >= 1")

    def record(self) -> dict:
        """The fields a run records and is fingerprinted by: all of them, except the validation
        sampling fields when validation sorts fully (they do not apply, and runs made before
        they existed keep their fingerprints) and the precision when it is `auto` (likewise)."""
        record = asdict(self)
        if self.precision == "auto":
            record.pop("precision")
        if self.valid_protocol == "full":
            for name in VALID_SAMPLING:
                record.pop(name)
        return record

    def valid_ranking(self) -> Ranking:
        """How validation ranks its targets (`evaluate.sampling.Ranking`)."""
        return Ranking(self.valid_protocol, self.valid_negatives, self.valid_sampler,
                       self.valid_sample_seed)
