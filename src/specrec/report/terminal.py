"""Report tables for the terminal: rich tables split by columns so that every digit fits."""

from __future__ import annotations

from specrec.report.render import grid, short_name
from specrec.report.tables import Table

LABEL_COLUMNS = ("label", "transform")  # the column every part of a split table repeats
TERMINAL_INFO = ("label", "n", "transform", "selected", "configs")
NUMERIC_INFO = ("n", "configs")
LABEL_MIN = 16  # a longer label folds onto several lines at this width, never fewer
EDGE, PER_COLUMN = 1, 3  # a box's left edge; per column: padding (1 + 1) and its right border


def rich_tables(table: Table, width: int) -> list:
    """The table as one or more rich tables no wider than `width`, each with the label column and
    as many of the other columns (metrics ± std below, tests) as fit; no cell is ellipsized."""
    from rich.markup import escape
    from rich.table import Table as RichTable

    header, body, bold, stars = grid(table)
    n_info = len(table.info_columns)
    keep = [j for j, name in enumerate(header) if j >= n_info or name in TERMINAL_INFO]
    label = [j for j in keep if header[j] in LABEL_COLUMNS][:1]
    rest = [j for j in keep if j not in label]
    texts = [[_cell(row[j], j in strong, j in starred) for j in range(len(header))]
             for row, strong, starred in zip(body, bold, stars)]
    plain = [[_plain(row[j], j in starred) for j in range(len(header))]
             for row, starred in zip(body, stars)]
    numeric = {j for j in rest if j >= n_info or header[j] in NUMERIC_INFO}
    need = {j: _min_width(short_name(header[j]), [row[j] for row in plain], j in numeric)
            for j in keep}
    for j in label:  # at most half the width: a longer word folds (it is never cut off)
        longest = max([_lines_width(row[j]) for row in plain], default=0)
        need[j] = min(max(need[j], min(LABEL_MIN, longest)), max(LABEL_MIN, width // 2))
    parts = _split(rest, need, EDGE + sum(need[j] + PER_COLUMN for j in label), width)
    out = []
    for k, part in enumerate(parts):
        count = f" ({k + 1}/{len(parts)})" if len(parts) > 1 else ""
        caption = escape(table.note) if table.note and k == len(parts) - 1 else None
        rich_table = RichTable(title=escape(table.heading) + count, caption=caption)
        for j in [*label, *part]:
            rich_table.add_column(escape(short_name(header[j])),
                                  justify="left" if j < n_info and j not in numeric else "right",
                                  min_width=need[j], no_wrap=j in numeric, overflow="fold")
        for row in texts:
            rich_table.add_row(*[row[j] for j in [*label, *part]])
        out.append(rich_table)
    return out


def _split(columns: list[int], need: dict[int, int], base: int, width: int) -> list[list[int]]:
    """Consecutive groups of columns, each as wide as fits beside the label (one at least)."""
    parts: list[list[int]] = [[]]
    used = base
    for j in columns:
        cost = need[j] + PER_COLUMN
        if parts[-1] and used + cost > width:
            parts.append([])
            used = base
        parts[-1].append(j)
        used += cost
    return parts


def _plain(text: str, star: bool) -> str:
    return text.replace(" ± ", "\n± ") + ("*" if star else "")


def _cell(text: str, strong: bool, star: bool) -> str:
    from rich.markup import escape

    body = escape(text.replace(" ± ", "\n± "))
    return (f"[bold]{body}[/bold]" if strong else body) + ("*" if star else "")


def _lines_width(text: str) -> int:
    from rich.cells import cell_len

    return max((cell_len(line) for line in text.split("\n")), default=0)


def _min_width(header: str, cells: list[str], numeric: bool) -> int:
    """Numbers keep whole lines (`0.0433`, `± 0.0012`); text keeps whole words; so do headers."""
    from rich.cells import cell_len

    words = [w for text in [header, *([] if numeric else cells)] for w in text.split()]
    widest = max((cell_len(w) for w in words), default=1)
    if numeric:
        widest = max([widest, *(_lines_width(text) for text in cells)])
    return widest
