"""The artifacts an experiment needs: folders named by a hash of options and inputs; commands."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from typing import Any

from specrec.artifacts import META_FILE, sha256_of
from specrec.errors import SpecrecError
from specrec.plan.sections import SAFE_PATH
from specrec.plan.spec import (
    Backbone, Config, Dataset, Encoder, Experiment, Method, resolve_train, train_key,
)
from specrec.plan.teachers import teacher_of

SWEEPS = {"ace": "lambda"}  # transform -> the option one call sweeps into <out>/<option>-<v>/
STAMP = "sweep.done"  # written by the sweep rule once every table of the sweep is there
DICT_FLAGS = {"loss_options": "--loss-opt"}


@dataclass
class Node:
    """One artifact (or one ACE sweep writing several) and the specrec command that makes it."""

    kind: str  # dataset | embeddings | table | sweep | run | evaluation
    path: str  # its folder: relative to the plan folder, absolute for an existing input
    key: dict  # what the folder's hash covers: resolved options and the inputs' keys
    deps: tuple[str, ...] = ()  # make prerequisites (other nodes' targets, raw files)
    command: tuple[str, ...] | None = None  # specrec's arguments; None: an existing input
    heavy: bool = True  # run under $(RUN) (else $(RUN_LIGHT))
    outputs: tuple[str, ...] = ()  # a sweep's table folders

    @property
    def target(self) -> str:
        return f"{self.path}/{STAMP if self.kind == 'sweep' else META_FILE}"


@dataclass
class Candidate:
    """One configuration of a selection group and its runs by seed."""

    config: Config
    runs: dict[int, str]


@dataclass
class Group:
    """The configurations selection chooses among: one method × backbone × dataset × encoder."""

    dataset: str
    encoder: str | None  # None for ID-only methods (their runs read no embeddings)
    backbone: str
    method: str
    candidates: list[Candidate] = field(default_factory=list)


@dataclass
class Graph:
    """Every node by folder (in the order made) and the selection groups."""

    nodes: dict[str, Node] = field(default_factory=dict)
    groups: list[Group] = field(default_factory=list)
    run_tables: dict[str, str] = field(default_factory=dict)  # run folder -> its table folder

    def add(self, node: Node) -> Node:
        found = self.nodes.setdefault(node.path, node)
        if found.key != node.key:
            raise SpecrecError(f"two different artifacts would share the folder '{node.path}' "
                               "(a hash collision); rename one of the sections involved")
        return found

    def candidate_runs(self) -> list[str]:
        """Every run selection can see (teacher-only runs are not among them), in order."""
        runs = (run for g in self.groups for c in g.candidates for run in c.runs.values())
        return list(dict.fromkeys(runs))

    def of_kind(self, kind: str) -> list[Node]:
        return [node for node in self.nodes.values() if node.kind == kind]

    def fingerprint(self) -> str:
        nodes = [(n.kind, n.path, n.deps, n.command, n.outputs) for n in self.nodes.values()]
        groups = [(g.dataset, g.encoder, g.backbone, g.method,
                   [(c.config.label, sorted(c.runs.items())) for c in g.candidates])
                  for g in self.groups]
        return sha256_of({"nodes": nodes, "groups": groups})


def short_hash(key: dict) -> str:
    return sha256_of(key).partition(":")[2][:8]


def number(value: Any) -> str:
    """A number as a command-line argument (whole floats without '.0')."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)


def kv(name: str, value: Any) -> str:
    """KEY=VALUE as `--param`/`--*-opt` parse it back (JSON for values that would be misread)."""
    if isinstance(value, bool):
        return f"{name}={'true' if value else 'false'}"
    if isinstance(value, str):
        try:
            json.loads(value.lower() if value.lower() in ("true", "false", "null") else value)
        except json.JSONDecodeError:
            return f"{name}={value}"
        return f"{name}={json.dumps(value)}"
    return f"{name}={number(value)}"


def flags(options: dict, skip: tuple[str, ...] = ()) -> list[str]:
    """`--option value` per entry (booleans as --x / --no-x, tables as repeated KEY=VALUE)."""
    out: list[str] = []
    for name, value in options.items():
        if name in skip:
            continue
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            out.append(flag if value else "--no-" + name.replace("_", "-"))
        elif isinstance(value, dict):
            for key, item in value.items():
                out += [DICT_FLAGS.get(name, flag), kv(key, item)]
        else:
            out += [flag, number(value)]
    return out


def dataset_node(graph: Graph, exp: Experiment, data: Dataset) -> Node:
    if data.path is not None:
        return graph.add(Node("dataset", str(data.path), {"path": str(data.path)}))
    key = {"kind": "dataset", "name": data.name, "source": data.source,
           "protocol": exp.protocol, "options": data.options}
    path = f"data/{data.name}-{short_hash(key)}"
    options = {k: v for k, v in data.options.items() if k not in ("paths", "columns")}
    columns = [a for role, name in data.options.get("columns", {}).items()
               for a in ("--column", f"{role}={name}")]
    raw = data.options.get("paths", [])
    files = tuple(p for p in raw if SAFE_PATH.match(p) and os.path.isfile(p))
    command = ("preprocess", data.source, *raw, "--protocol", exp.protocol, *flags(options),
               *columns, "--out", path)
    return graph.add(Node("dataset", path, key, files, command, heavy=False))


def embeddings_node(graph: Graph, exp: Experiment, data: Node, dataset: str,
                    encoder: Encoder) -> Node:
    if encoder.path is not None:
        return graph.add(Node("embeddings", str(encoder.path), {"path": str(encoder.path)}))
    key = {"kind": "embeddings", "name": encoder.name, "encoder": encoder.alias,
           "options": encoder.options, "dataset": data.path}
    path = f"emb/{dataset}.{encoder.name}-{short_hash(key)}"
    command = ("embed", "--dataset", data.path, "--encoder", encoder.alias,
               *flags(encoder.options), "--device", exp.device, "--out", path)
    return graph.add(Node("embeddings", path, key, (data.target,), command))


def table_request(exp: Experiment, method: Method, config: Config, dim: int, emb: Node,
                  data: Node) -> tuple[dict, Any, dict]:
    """(key of the table or of its sweep, the swept value or None, the given options)."""
    from specrec.transform.base import TRANSFORMS, resolve_options

    given = {k: v for k, v in config.transform.items() if k != "seed"}
    resolved = resolve_options(method.transform, given)
    try:  # what the transform refuses about a combination of options (ACE: target_erank)
        TRANSFORMS.get(method.transform)().variants(resolved, dim)
    except SpecrecError as exc:
        raise exp.where(f"methods.{method.name}").error(
            None, f"configuration '{config.label}': {exc}") from None
    sweep = SWEEPS.get(method.transform)
    value = resolved.get(sweep) if sweep else None
    swept = isinstance(value, float)
    options = {k: v for k, v in resolved.items() if not (swept and k == sweep)}
    key = {"kind": "table", "transform": method.transform, "options": options, "dim": dim,
           "seed": config.transform.get("seed", 0), "embeddings": emb.path, "dataset": data.path,
           "sweep": sweep if swept else None}
    return key, value if swept else None, config.transform


def table_nodes(graph: Graph, requests: dict[str, tuple[dict, list, dict]], names: dict) -> dict:
    """One node per table folder (one per sweep); returns (folder, swept value) -> table folder."""
    from specrec.transform.base import TRANSFORMS, resolve_options

    where: dict = {}
    for path, (key, values, given) in requests.items():
        transform, dim = key["transform"], key["dim"]
        emb, data = key["embeddings"], key["dataset"]
        base = ["transform", transform, "--embeddings", emb, "--dataset", data, "--dim", str(dim)]
        if "seed" in given:
            base += ["--seed", str(given["seed"])]
        params = [a for name, value in given.items() if name not in ("seed", key["sweep"])
                  for a in ("--param", kv(name, value))]
        deps = names[path]
        if key["sweep"] is None:
            graph.add(Node("table", path, key, deps, (*base, *params, "--out", path), False))
            where[(path, None)] = path
            continue
        sweep = key["sweep"]
        resolved = resolve_options(transform, {**{k: v for k, v in given.items() if k != "seed"},
                                               sweep: list(values)})
        subdirs = [sub for sub, _ in TRANSFORMS.get(transform)().variants(resolved, dim)]
        if len(set(subdirs)) != len(values):
            raise SpecrecError(f"the {transform} {sweep} values {values} give the same table "
                               f"folder twice ({', '.join(subdirs)}); make them more distinct")
        listed = ",".join(number(v) for v in values) + ("," if len(values) == 1 else "")
        outputs = tuple(f"{path}/{sub}" for sub in subdirs)
        command = (*base, *params, "--" + sweep.replace("_", "-"), listed, "--out", path)
        graph.add(Node("sweep", path, {**key, "values": values}, deps, command, False, outputs))
        where.update({(path, v): out for v, out in zip(values, outputs)})
    return where


def build_graph(exp: Experiment) -> Graph:
    """Every artifact of the experiment; runs for every configuration and every seed."""
    graph = Graph()
    data = {d.name: dataset_node(graph, exp, d) for d in exp.datasets}
    emb = {(d, e.name): embeddings_node(graph, exp, data[d], d, e)
           for d in data for e in exp.encoders_of(d)}
    plans = []  # (group, backbone, method, config, train options, TrainConfig, (table, λ))
    requests: dict[str, tuple[dict, list, dict]] = {}
    deps: dict[str, tuple[str, ...]] = {}
    for dataset in data:
        for method in exp.methods:
            encoders = [e.name for e in exp.encoders_of(dataset)] if method.transform else [None]
            for encoder in encoders:
                for backbone in exp.backbones:
                    group = Group(dataset, encoder, backbone.name, method.name)
                    graph.groups.append(group)
                    for config in method.configs:
                        given, resolved = resolve_train(exp, backbone, method, config)
                        table = None
                        if encoder is not None:
                            node = emb[(dataset, encoder)]
                            key, value, options = table_request(
                                exp, method, config, resolved.dim, node, data[dataset])
                            name = f"{dataset}.{encoder}.{method.transform}"
                            path = f"tables/{name}-{short_hash(key)}"
                            entry = requests.setdefault(path, (key, [], options))
                            if value is not None and value not in entry[1]:
                                entry[1].append(value)
                            deps[path] = (node.target, data[dataset].target)
                            table = (path, value)
                        plans.append((group, backbone, method, config, given, resolved, table))
    tables = table_nodes(graph, requests, deps)
    for group, backbone, method, config, given, resolved, table in plans:
        candidate = Candidate(config, {})
        group.candidates.append(candidate)
        for seed in exp.run_seeds:
            student = (config, resolved, ())
            if method.teacher:
                teacher = teacher_node(graph, exp, data[group.dataset], group.dataset, backbone,
                                       method, seed)
                student = with_teacher(config, resolved, teacher)
            candidate.runs[seed] = run_node(graph, exp, data[group.dataset], group, backbone,
                                            method, student[0], given, student[1],
                                            tables[table] if table else None, seed,
                                            student[2]).path
    for path in graph.candidate_runs():
        evaluation_node(graph, exp, graph.nodes[path])
    return graph


def teacher_node(graph: Graph, exp: Experiment, data: Node, dataset: str, student: Backbone,
                 method: Method, seed: int) -> Node:
    """The ID-only run a method's runs on `seed` align to (shared with an equal run)."""
    backbone, entry, config = teacher_of(exp, student, method)
    given, resolved = resolve_train(exp, backbone, entry, config)
    group = Group(dataset, None, backbone.name, f"{method.name}.teacher")
    return run_node(graph, exp, data, group, backbone, entry, config, given, resolved, None, seed)


def with_teacher(config: Config, resolved: Any, teacher: Node) -> tuple[Config, Any, tuple]:
    """The student's configuration and TrainConfig naming `teacher`, and the extra make deps."""
    embedder = {**config.embedder, "teacher": teacher.path}
    return (replace(config, embedder=embedder), replace(resolved, embedder_options=embedder),
            (teacher.target,))


def run_node(graph: Graph, exp: Experiment, data: Node, group: Group, backbone: Backbone,
             method: Method, config: Config, given: dict, resolved: Any, table: str | None,
             seed: int, extra_deps: tuple[str, ...] = ()) -> Node:
    key = {"kind": "run", "dataset": data.path, "table": table, "train": train_key(resolved)}
    parts = [group.dataset, group.encoder or "id"]
    if method.transform:
        parts.append(method.transform)
    name = f"{'.'.join([*parts, backbone.backbone])}-{short_hash(key)}.s{seed}"
    path = f"runs/{name}"
    table_target = f"{table}/{META_FILE}" if table else None
    command = ["train", "--dataset", data.path, *(["--table", table] if table else []),
               "--backbone", backbone.backbone, *flags(given),
               *flags({"backbone_opt": backbone.options, "embedder_opt": config.embedder}),
               "--valid-metric", exp.valid_metric, "--seed", str(seed), "--device", exp.device]
    if exp.threads:
        command += ["--threads", str(exp.threads)]
    command += ["--resume", "--out", path]
    deps = (data.target, *([table_target] if table_target else []), *extra_deps)
    node = graph.add(Node("run", path, {**key, "seed": seed}, deps, tuple(command)))
    if table:
        graph.run_tables[path] = table
    return node


def evaluation_path(exp: Experiment, run: str) -> str:
    return f"evals/k{'-'.join(map(str, sorted(exp.ks)))}/{run.rpartition('/')[2]}"


def evaluation_node(graph: Graph, exp: Experiment, run: Node) -> Node:
    path = evaluation_path(exp, run.path)
    ks = [a for k in sorted(exp.ks) for a in ("--k", str(k))]
    command = ("evaluate", run.path, *ks, "--device", exp.device, "--out", path)
    key = {"kind": "evaluation", "run": run.path, "ks": sorted(exp.ks)}
    return graph.add(Node("evaluation", path, key, (run.target,), command))
