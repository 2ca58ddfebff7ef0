"""GRU4Rec (Hidasi et al. 2016; RecBole 1.2 form): input dropout -> bias-free GRU -> Linear."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from specrec.errors import SpecrecError
from specrec.models.base import BACKBONES, Backbone, BackboneConfig, padding_mask
from specrec.models.dropout import Dropout


@dataclass
class GRU4RecConfig(BackboneConfig):
    hidden_size: int = 128
    num_layers: int = 1
    dropout_prob: float = 0.3


@BACKBONES.register("gru4rec")
class GRU4Rec(Backbone):
    """h_t = GRU(Drop(x_1..x_t)) (no biases, zero initial state); out_t = W h_t + b.

    A GRU reads left to right, so with right padding trailing pads can never reach a valid
    position: the backbone is causal by construction. Pad rows of the output are zeroed.
    """

    name = "gru4rec"
    causal = True
    Config = GRU4RecConfig

    def __init__(self, config: GRU4RecConfig, n_items: int) -> None:
        super().__init__(config, n_items)
        if config.hidden_size <= 0 or config.num_layers <= 0:
            raise SpecrecError("gru4rec: hidden_size and num_layers must be positive")
        if not 0.0 <= config.dropout_prob < 1.0:
            raise SpecrecError(
                f"gru4rec: dropout_prob must be in [0, 1), got {config.dropout_prob}"
            )
        self.dropout = Dropout(config.dropout_prob)
        self.gru = nn.GRU(
            input_size=config.dim,
            hidden_size=config.hidden_size,
            num_layers=config.num_layers,
            bias=False,
            batch_first=True,
        )
        self.dense = nn.Linear(config.hidden_size, config.dim)
        # RecBole re-initialises only the first layer's GRU weights; the rest keep PyTorch defaults.
        nn.init.xavier_uniform_(self.gru.weight_ih_l0)
        nn.init.xavier_uniform_(self.gru.weight_hh_l0)

    def forward(
        self,
        x: Tensor,
        lengths: Tensor,
        *,
        masked: Tensor | None = None,
        timestamps: Tensor | None = None,
    ) -> Tensor:
        valid = padding_mask(lengths, x.size(1))[..., None]
        states, _ = self.gru(self.dropout(x))
        return self.dense(states).masked_fill(~valid, 0.0)
