"""specrec.plan: an experiment file (datasets, encoders, method grids, seeds) -> a Makefile."""

from specrec.plan.sections import load_experiment
from specrec.plan.stage import plan, select

__all__ = ["load_experiment", "plan", "select"]
