"""The text of a plan's Makefile and of the two-stage mode's final.mk: one rule per artifact."""

from __future__ import annotations

import shlex
from collections.abc import Iterable

from specrec.artifacts import META_FILE
from specrec.plan.graph import Graph, Node
from specrec.plan.spec import Experiment

MAKEFILE = "Makefile"
FINAL = "final.mk"
PLAN_FILE = "plan.json"
SELECTION_FILE = "selection.json"
REPORT = "report"
WIDTH = 100
DRY_RUN = "$(findstring n,$(firstword -$(MAKEFLAGS)))$(findstring q,$(firstword -$(MAKEFLAGS)))"


def sh(word: str) -> str:
    """One shell word of a recipe (quoted when needed, `$` doubled for make)."""
    return shlex.quote(str(word)).replace("$", "$$")


def wrap(head: str, words: Iterable[str], indent: str) -> str:
    """`head` then `words`, broken with backslashes before a line grows past WIDTH."""
    lines, line = [], head
    for word in words:
        if len(line) + 1 + len(word) > WIDTH and line.strip() != head.strip():
            lines.append(line + " \\")
            line = indent + word
        else:
            line = f"{line} {word}" if line else word
    return "\n".join([*lines, line])


def units(words: list[str]) -> list[str]:
    """Command words with each `--flag value` pair kept on one line."""
    out: list[str] = []
    for word in words:
        if out and out[-1].startswith("--") and " " not in out[-1] and not word.startswith("--"):
            out[-1] += " " + word
        else:
            out.append(word)
    return out


def variable(name: str, values: Iterable[str]) -> str:
    return wrap(f"{name} :=", list(values), "  ")


def rule(node: Node) -> str:
    """The rule making `node` (a sweep also says which tables its stamp stands for)."""
    deps = list(node.deps)
    outputs = [f"{out}/{META_FILE}" for out in node.outputs]
    if node.kind == "sweep":  # a table missing from the folder (a new λ, a deleted one) reruns it
        deps.append(f"$(call missing,{' '.join(outputs)})")
    prefix = "$(RUN)" if node.heavy else "$(RUN_LIGHT)"
    text = wrap(f"{node.target}:", deps, "  ") + "\n"
    if node.kind == "sweep":  # the stamp first: tables the command writes are then newer
        text += "\t@mkdir -p $(@D) && touch $@\n"
    text += wrap(f"\t{prefix} $(SPECREC)", units([sh(w) for w in node.command]), "\t  ")
    if node.kind == "sweep":
        text += "\n" + wrap("", outputs, "") + f": {node.target} ;"
    return text


def section(title: str, nodes: list[Node]) -> list[str]:
    made = [node for node in nodes if node.command is not None]
    return [f"## {title}", *(rule(node) for node in made)] if made else []


def targets(nodes: Iterable[Node]) -> list[str]:
    """make targets: a sweep stands for its tables' meta.json files."""
    out: list[str] = []
    for node in nodes:
        out += [f"{o}/{META_FILE}" for o in node.outputs] if node.kind == "sweep" else [node.target]
    return out


def report_tables(graph: Graph, runs: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(graph.run_tables[r] for r in runs if r in graph.run_tables))


def header(exp: Experiment, specrec: str) -> list[str]:
    mode = (f"two-stage: every configuration on tuning seeds {list(exp.tune_seeds)}, then each "
            f"group's choice on seeds {list(exp.seeds)}" if exp.two_stage
            else f"every configuration on seeds {list(exp.seeds)}")
    return [
        f"# Written by `specrec plan` for the experiment '{exp.name}' ({exp.file.resolve()}).",
        "# Edit the experiment and rerun `specrec plan`, not this file.",
        f"# Mode: {mode}.",
        *(["# Budget: the experiment's [budget] settings apply (experiment.budget = true)."]
          if exp.budget else []),
        *([wrap("# Overrides (plan.json; --select applies them again):",
                [f"--set {shlex.quote(o)}" for o in exp.overrides], "#   ")]
          if exp.overrides else []),
        "#",
        "#   make -C DIR -j N                           everything, N commands at a time",
        "#   make -C DIR -j 64 RUN=\"srun --gres=gpu:1\"   each command under the cluster's "
        "scheduler",
        "#   make -C DIR -n                             what would run",
        "# Targets: all (= report), datasets, embeddings, tables, runs, evaluations, report"
        + (", tune." if exp.two_stage else "."),
        "# Each artifact's target is its meta.json, which its stage writes last and atomically: a",
        "# killed make resumes where it stopped (training from its checkpoint: train --resume).",
        "",
        f"SPECREC      ?= {specrec.replace('$', '$$')}",
        "RUN          ?=",
        "RUN_LIGHT    ?= $(RUN)",
        f"EXPERIMENT   := {sh(str(exp.file.resolve()))}",
        f"REPORT_FLAGS ?= --title {sh(exp.name)}",
        *([f"export OMP_NUM_THREADS ?= {exp.threads}"] if exp.threads else []),
        "",
        ".DEFAULT_GOAL := all",
        ".DELETE_ON_ERROR:",
        ".SUFFIXES:",
        ".PHONY: all datasets embeddings tables runs evaluations report report-force tune FORCE",
        "FORCE:",
        "missing = $(if $(filter-out $(wildcard $(1)),$(1)),FORCE)",
    ]


def render_makefile(exp: Experiment, graph: Graph, specrec: str) -> str:
    """The plan's Makefile: stage one of the two-stage mode, or every run and evaluation."""
    runs = [n for n in graph.of_kind("run") if n.key["seed"] in
            (exp.tune_seeds if exp.two_stage else exp.seeds)]
    seen = set(graph.candidate_runs())
    evaluated = [run for run in runs if run.path in seen]  # not teacher-only runs
    evaluations = [] if exp.two_stage else [graph.nodes[e] for e in evaluations_of(exp, evaluated)]
    tables = graph.of_kind("table") + graph.of_kind("sweep")
    lines = header(exp, specrec) + [
        "",
        variable("DATASETS", targets(graph.of_kind("dataset"))),
        variable("EMBEDDINGS", targets(graph.of_kind("embeddings"))),
        variable("TABLES", targets(tables)),
        variable("RUNS", targets(runs)),
    ]
    if exp.two_stage:
        lines += [
            "",
            "# Stage two: `specrec plan --select` reads the tuning runs' validation scores and",
            f"# writes {FINAL} (and {SELECTION_FILE}): each group's best configuration on every",
            "# seed, and the evaluations; make then rereads this Makefile with it.",
            "# (make -n and -q show stage one only: they would have to train to plan stage two.)",
            f"ifeq ({DRY_RUN},)",
            f"include {FINAL}",
            f"{FINAL}: $(RUNS) {PLAN_FILE}",
            "\t$(RUN_LIGHT) $(SPECREC) plan $(EXPERIMENT) --out . --select",
            "else",
            f"-include {FINAL}",
            "endif",
        ]
    else:
        lines += [variable("EVALUATIONS", targets(evaluations)),
                  variable("REPORT_TABLES", report_tables(graph, [r.path for r in runs]))]
    lines += [
        ".PRECIOUS: $(DATASETS) $(EMBEDDINGS) $(TABLES) $(RUNS) $(FINAL_RUNS) $(EVALUATIONS) "
        f"{REPORT}/{META_FILE}",
        "REPORT_INPUTS = $(patsubst %/meta.json,%,$(EVALUATIONS)) $(REPORT_TABLES)",
        "",
        "all: tune report" if exp.two_stage else "all: report",
        "datasets: $(DATASETS)",
        "embeddings: $(EMBEDDINGS)",
        "tables: $(TABLES)",
        "runs: $(RUNS) $(FINAL_RUNS)",
        "evaluations: $(EVALUATIONS)",
        *(["tune: $(RUNS)"] if exp.two_stage else []),
        f"report: {REPORT}/{META_FILE}",
        "",
        f"{REPORT}/{META_FILE}: $(EVALUATIONS) $(REPORT_TABLES:%=%/meta.json)",
        f"\t$(RUN_LIGHT) $(SPECREC) report $(REPORT_INPUTS) $(REPORT_FLAGS) --out {REPORT}",
        "# make redoes the report when an input changes; after changing only REPORT_FLAGS:",
        "report-force: $(EVALUATIONS) $(REPORT_TABLES:%=%/meta.json)",
        f"\t$(RUN_LIGHT) $(SPECREC) report $(REPORT_INPUTS) $(REPORT_FLAGS) --force --out {REPORT}",
        "",
    ]
    for title, nodes in (("datasets", graph.of_kind("dataset")),
                         ("embeddings", graph.of_kind("embeddings")), ("tables", tables),
                         ("runs", runs), ("evaluations", evaluations)):
        rules = section(title, nodes)
        lines += [*rules, ""] if rules else []
    return "\n".join(lines).rstrip("\n") + "\n"


def evaluations_of(exp: Experiment, runs: Iterable[Node]) -> list[str]:
    from specrec.plan.graph import evaluation_path

    return list(dict.fromkeys(evaluation_path(exp, run.path) for run in runs))


def teachers_of(graph: Graph, runs: list[Node], written: Iterable[int]) -> list[Node]:
    """The runs that `runs` depend on (teachers) whose rules stage one did not write."""
    by_target = {node.target: node.path for node in graph.of_kind("run")}
    found = dict.fromkeys(by_target[d] for run in runs for d in run.deps if d in by_target)
    listed = {run.path for run in runs}
    return [graph.nodes[path] for path in found
            if graph.nodes[path].key["seed"] not in written and path not in listed]


def render_final(exp: Experiment, graph: Graph, final_runs: list[str]) -> str:
    """final.mk: the chosen configurations' runs on the seeds not tuned, and every evaluation."""
    runs = [graph.nodes[path] for path in dict.fromkeys(final_runs)]
    new = [run for run in runs if run.key["seed"] not in exp.tune_seeds]
    new = [*teachers_of(graph, new, exp.tune_seeds), *new]
    evaluations = [graph.nodes[e] for e in evaluations_of(exp, runs)]
    lines = [
        f"# Written by `specrec plan --select` for the experiment '{exp.name}' from the tuning",
        f"# runs' validation {exp.valid_metric} ({SELECTION_FILE} says what was chosen and why).",
        "",
        variable("FINAL_RUNS", targets(runs)),
        variable("EVALUATIONS", targets(evaluations)),
        variable("REPORT_TABLES", report_tables(graph, [r.path for r in runs])),
        "",
        *section("runs of the chosen configurations on the other seeds", new), "",
        *section("evaluations", evaluations),
    ]
    return "\n".join(lines).rstrip("\n") + "\n"
