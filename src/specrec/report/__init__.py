"""specrec.report: evaluations, runs and transforms -> Markdown/LaTeX/CSV tables, PNG/PDF plots."""

from specrec.report.stage import report

__all__ = ["report"]
