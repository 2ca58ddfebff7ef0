"""specrec.report: many evaluations, runs and transforms -> Markdown/CSV tables and PNG plots."""

from specrec.report.stage import report

__all__ = ["report"]
