"""Render report tables as GitHub Markdown (best per column in bold, * significant) and CSV."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from specrec.evaluate.sampling import labelled
from specrec.report.stats import Summary
from specrec.report.tables import Table

MISSING = "–"
SHORT_NAMES = {"recall": "R", "ndcg": "N", "hit": "H", "mrr": "MRR", "p (Wilcoxon)": "p (W)",
               "p (t-test)": "p (t)"}


def best_rows(table: Table, column: str) -> set[int]:
    """Indices of the rows holding the column's maximum mean (ties all count; needs >= 2 values)."""
    values = {i: row.cells[column].mean for i, row in enumerate(table.rows)
              if column in row.cells and not math.isnan(row.cells[column].mean)}
    if not table.bold or len(values) < 2:
        return set()
    top = max(values.values())
    return {i for i, value in values.items() if value == top}


def format_cell(cell: Summary | None) -> str:
    """`0.0433` for one value, `0.0433 ± 0.0012` (sample std) for several seeds."""
    if cell is None or math.isnan(cell.mean):
        return MISSING
    if cell.n > 1 and not math.isnan(cell.std):
        return f"{cell.mean:.4f} ± {cell.std:.4f}"
    return f"{cell.mean:.4f}"


def format_extra(name: str, value: float | None) -> str:
    if value is None or math.isnan(value):
        return MISSING
    if name.startswith("Δ%"):
        return f"{value:+.2f}%"
    return f"{value:.4f}" if value >= 1e-4 else f"{value:.1e}"


def grid(table: Table) -> tuple[list[str], list[list[str]], list[set[int]], list[set[int]]]:
    """Header, text cells, and per row the indices of its bold cells and of its starred cells;
    metric headers carry the table's ranking, e.g. `hit@10 (sampled-100, uniform)`."""
    metrics = [labelled(c, table.ranking) for c in table.columns]
    header = [*table.info_columns, *metrics, *table.extras]
    bold_by_column = {c: best_rows(table, c) for c in table.columns}
    offset = len(table.info_columns)
    body, bold, stars = [], [], []
    for i, row in enumerate(table.rows):
        cells = [row.info.get(c, "") for c in table.info_columns]
        cells += [format_cell(row.cells.get(c)) for c in table.columns]
        cells += [format_extra(e, row.extras.get(e)) for e in table.extras]
        body.append(cells)
        bold.append({offset + j for j, c in enumerate(table.columns) if i in bold_by_column[c]})
        stars.append({offset + j for j, c in enumerate(table.columns)
                      if i in table.stars.get(c, set())})
    return header, body, bold, stars


def to_markdown(table: Table) -> str:
    """A GitHub Markdown section: heading, note, table (4 decimals, best per column in bold)."""
    header, body, bold, stars = grid(table)
    lines = [f"## {table.heading}", ""]
    if table.note:
        lines += [table.note, ""]
    lines.append("| " + " | ".join(map(_escape, header)) + " |")
    lines.append("|" + "|".join("---" if i < len(table.info_columns) else "---:"
                                for i in range(len(header))) + "|")
    for cells, strong, starred in zip(body, bold, stars):
        text = [(f"**{c}**" if j in strong else _escape(c)) + ("\\*" if j in starred else "")
                for j, c in enumerate(cells)]
        lines.append("| " + " | ".join(text) + " |")
    return "\n".join(lines) + "\n"


def _escape(text: str) -> str:
    return str(text).replace("|", "\\|")


def short_name(name: str) -> str:
    """ACE-style column names: recall@10 -> R@10, Δ% ndcg@10 -> Δ% N@10, p (t-test) -> p (t)."""
    prefix = "Δ% " if name.startswith("Δ% ") else ""
    head, _, tail = name.removeprefix(prefix).partition("@")
    if tail and head in SHORT_NAMES:
        return f"{prefix}{SHORT_NAMES[head]}@{tail}"
    return SHORT_NAMES.get(name, name)


def write_csv(tables: list[Table], path: Path) -> None:
    """One CSV row per table row: context, descriptive columns, `<metric>`, `<metric>_std` and
    `<metric>_n`, the extra columns, and with selection tables `<metric>_star` (1 = starred).

    Floats are written at full precision (repr) so the file reads back to the same numbers.
    """
    context = list(dict.fromkeys(k for t in tables for k in t.context))
    info = list(dict.fromkeys(c for t in tables for c in t.info_columns))
    metrics = list(dict.fromkeys(c for t in tables for c in t.columns))
    extras = list(dict.fromkeys(e for t in tables for e in t.extras))
    fields = ["table", *context, *info]
    starred = any(t.kind == "selected" for t in tables)  # a `<metric>_star` column each
    fields += [x for m in metrics for x in (m, f"{m}_std", f"{m}_n")] + extras
    fields += [f"{m}_star" for m in metrics] if starred else []
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        for table in tables:
            for i, row in enumerate(table.rows):
                record = {"table": table.kind, **table.context, **row.info}
                for m in table.columns:
                    cell = row.cells.get(m)
                    if cell is not None:
                        record.update({m: _number(cell.mean), f"{m}_std": _number(cell.std),
                                       f"{m}_n": cell.n})
                record.update({e: _number(row.extras.get(e)) for e in table.extras})
                record.update({f"{m}_star": int(i in table.stars.get(m, set()))
                               for m in table.columns if starred})
                writer.writerow(record)


def _number(value: float | None) -> str:
    return "" if value is None or math.isnan(value) else repr(float(value))
