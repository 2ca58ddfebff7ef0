"""Training losses: importing this package registers every loss (one line each)."""

from specrec.models.losses import bce, ce, gbce, infonce, sampled_softmax  # noqa: F401
from specrec.models.losses.base import LOSSES, Loss, build_loss

__all__ = ["LOSSES", "Loss", "build_loss"]
