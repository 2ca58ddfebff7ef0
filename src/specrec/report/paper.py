"""Write the papers' table layouts as GitHub Markdown, LaTeX (booktabs) and long-format CSV."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from specrec.evaluate.sampling import labelled
from specrec.report.layouts import Layout, Paper
from specrec.report.render import MISSING, short_name

CSV_FIELDS = ("method", "metric", "mean", "std", "n", "seeds", "mark", "star", "p_max",
              "selected", "configs", "valid_metric", "valid")
LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                 "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
                 "^": r"\textasciicircum{}", "λ": r"$\lambda$", "γ": r"$\gamma$",
                 "α": r"$\alpha$", "β": r"$\beta$", "τ": r"$\tau$", "×": r"$\times$",
                 "·": r"$\cdot$", "±": r"$\pm$", "–": "--", "σ": r"$\sigma$",
                 "<": r"$<$", ">": r"$>$"}


def cell_text(layout: Layout, row: int, group: int, metric: str) -> tuple[str, str, bool]:
    """(mean with 4 decimals or `–`, "best" | "second" | "", star) of one cell."""
    summary = layout.summary(row, group, metric)
    if summary is None or math.isnan(summary.mean):
        return MISSING, "", False
    cell = (row, group, metric)
    return f"{summary.mean:.4f}", layout.marks.get(cell, ""), cell in layout.stars


def _columns(layout: Layout) -> list[tuple[int, str]]:
    return [(g, m) for g in range(len(layout.groups)) for m in layout.metrics]


def _ranking(layout: Layout, group: int) -> str:
    return layout.rankings[group] if group < len(layout.rankings) else ""


def metric_name(layout: Layout, group: int, metric: str) -> str:
    """`N@10`, or `N@10 (sampled-100, uniform)` in a group ranked against sampled negatives."""
    return labelled(short_name(metric), _ranking(layout, group))


def to_markdown(layout: Layout, level: int = 2) -> str:
    """The title as a heading, the note, then a column per (group, metric): **best**,
    <u>second</u>, \\* on a significant best."""
    header = ["method"] + [f"{layout.groups[g]} {metric_name(layout, g, m)}"
                           for g, m in _columns(layout)]
    lines = [f"{'#' * level} {layout.title}", "", layout.note, "",
             "| " + " | ".join(h.replace("|", "\\|") for h in header) + " |",
             "|---|" + "---:|" * (len(header) - 1)]
    for row, method in enumerate(layout.methods):
        cells = [method.replace("|", "\\|")]
        for g, m in _columns(layout):
            text, mark, star = cell_text(layout, row, g, m)
            text = {"best": f"**{text}**", "second": f"<u>{text}</u>"}.get(mark, text)
            cells.append(text + ("\\*" if star else ""))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def latex_escape(text: str) -> str:
    """Text safe inside a LaTeX table: specials escaped, Greek and × · ± as math."""
    return "".join(LATEX_SPECIAL.get(char, char) for char in str(text))


def to_latex(layout: Layout) -> str:
    """A booktabs `table`: a \\multicolumn header per group (\\cmidrule under it), \\textbf best,
    \\underline second, $^{*}$ on a significant best; needs \\usepackage{booktabs}."""
    width = len(layout.metrics)
    lines = [(f"% {latex_escape(layout.title)}: written by specrec report; needs "
              r"\usepackage{booktabs}"),
             r"\begin{table}[t]", r"  \centering",
             f"  \\caption{{{latex_escape(_caption(layout.title))}. {latex_escape(layout.note)}}}",
             f"  \\label{{tab:{layout.name}}}",
             f"  \\begin{{tabular}}{{l{'r' * width * len(layout.groups)}}}", r"    \toprule"]
    groups = [f"\\multicolumn{{{width}}}{{c}}{{{latex_escape(g)}}}" for g in layout.groups]
    lines.append("     & " + " & ".join(groups) + r" \\")
    rules = [f"\\cmidrule(lr){{{2 + g * width}-{1 + (g + 1) * width}}}"
             for g in range(len(layout.groups))]
    lines.append("    " + " ".join(rules))
    names = [latex_escape(metric_name(layout, g, m)) for g, m in _columns(layout)]
    lines.append("    Method & " + " & ".join(names) + r" \\")
    lines.append(r"    \midrule")
    for row, method in enumerate(layout.methods):
        cells = [latex_escape(method)]
        for g, m in _columns(layout):
            text, mark, star = cell_text(layout, row, g, m)
            text = "--" if text == MISSING else text
            text = {"best": f"\\textbf{{{text}}}", "second": f"\\underline{{{text}}}"}.get(
                mark, text)
            cells.append(text + ("$^{*}$" if star else ""))
        lines.append("    " + " & ".join(cells) + r" \\")
    lines += [r"    \bottomrule", r"  \end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def _caption(title: str) -> str:
    """`Table 1: methods × datasets` -> `Methods × datasets` (LaTeX numbers its tables)."""
    text = title.partition(": ")[2] or title
    return text[:1].upper() + text[1:]


def write_csv(layout: Layout, path: Path) -> None:
    """One row per (method, group, metric) cell; floats at full precision (repr)."""
    fields = ["layout", CSV_FIELDS[0], layout.group_field, *CSV_FIELDS[1:]]
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        for row, method in enumerate(layout.methods):
            for g, metric in _columns(layout):
                choice = layout.choices.get((row, g))
                summary = layout.summary(row, g, metric)
                if choice is None or summary is None:
                    continue
                cell = (row, g, metric)
                tested = layout.tested.get((g, metric)) == row
                writer.writerow({
                    "layout": layout.name, "method": method, layout.group_field: layout.groups[g],
                    "metric": labelled(metric, _ranking(layout, g)), "mean": repr(summary.mean),
                    "std": _number(summary.std), "n": summary.n, "seeds": choice.selected.seeds,
                    "mark": layout.marks.get(cell, ""), "star": int(cell in layout.stars),
                    "p_max": _number(layout.pmax.get((g, metric))) if tested else "",
                    "selected": choice.hyperparameters, "configs": len(choice.configs),
                    "valid_metric": choice.valid_metric, "valid": repr(choice.valid)})


def _number(value: float | None) -> str:
    return "" if value is None or math.isnan(value) else repr(float(value))


def write_paper(directory: Path, paper: Paper, title: str | None,
                spectra: list[str]) -> tuple[list[str], str]:
    """Write table1/table2 (.md .tex .csv) and figure3/figure4 (.png .pdf) into `directory`;
    return the file names and the results.md section that shows and links them."""
    from specrec.report import figures

    files: list[str] = []
    parts = ["## The papers' layouts\n",
             ("From the selected configurations above, on the test split. Files: `table1.*`, "
              "`table2.*` (Markdown, LaTeX with booktabs, CSV), `figure*.png/.pdf`.\n")]
    for name, layout in (("Table 1", paper.table1), ("Table 2", paper.table2)):
        if layout is None:
            parts.append(f"{name} is not written: no selected configuration was evaluated on the "
                         "test split.\n")
            continue
        written = [f"{layout.name}.md", f"{layout.name}.tex", f"{layout.name}.csv"]
        (directory / written[0]).write_text(to_markdown(layout))
        (directory / written[1]).write_text(to_latex(layout))
        write_csv(layout, directory / written[2])
        files += written
        parts.append(to_markdown(layout, level=3))
        parts.append("Files: " + ", ".join(f"[{f}]({f})" for f in written) + "\n")
    if spectra:
        parts.append("### Figure 2: normalised spectra\n\nσ_i / σ_1 of the raw embeddings and of "
                     "every table (log scale; drawn under Figures below): "
                     + ", ".join(f"[{f}]({f})" for f in spectra) + "\n")
    else:
        parts.append("Figure 2 (normalised spectra) is not drawn: no transform was read.\n")
    drawn = (("Figure 3: methods × encoders", paper.figure3, figures.plot_encoders,
              "no selected configuration on the test split was trained on an encoder's table"),
             ("Figure 4: ACE against λ", paper.figure4, figures.plot_lambda,
              "no selected ACE configuration on the test split records a numeric λ"))
    for name, data, plot, missing in drawn:
        if data is None:
            parts.append(f"{name.split(':')[0]} is not drawn: {missing}.\n")
            continue
        written = plot(data, directory, title)
        files += written
        fixed = data.fixed[:1].upper() + data.fixed[1:]
        parts.append(f"### {name}\n\n{fixed}: " + ", ".join(f"[{f}]({f})" for f in written)
                     + f"\n\n![{written[0]}]({written[0]})\n")
    return files, "\n".join(parts)
