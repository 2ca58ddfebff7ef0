"""A method's `teacher = {...}`: parsed, checked, and the ID-only run it stands for."""

from __future__ import annotations

from specrec.plan import options as opt
from specrec.plan.options import Where
from specrec.plan.spec import (
    Backbone, Config, Experiment, Method, Teacher, check_name, refuse_unknown, table_of,
)

TEACHER_KEYS = ("backbone", "train")


def parse_teacher(where: Where, table: dict, fixed: dict, grid: dict) -> Teacher | None:
    """`teacher = { backbone = NAME, train = {...} }`: each run's teacher run, made by the plan."""
    from specrec.runs.config import RUN_INPUT_OPTIONS

    if "teacher" not in table:
        return None
    given = table_of(where, "teacher", table["teacher"])
    refuse_unknown(where, given, TEACHER_KEYS, prefix="teacher.")
    for option in RUN_INPUT_OPTIONS:
        if option in fixed["embedder"] or option in grid.get("embedder", {}):
            raise where.error("teacher", f"the embedder option '{option}' is also given; with "
                                         "teacher = {...} the plan makes the teacher run itself")
    backbone = given.get("backbone")
    if backbone is not None:
        check_name(where, "teacher.backbone", backbone)
    train = table_of(where, "teacher.train", given.get("train", {}))
    for key, value in train.items():
        opt.train_option(where, f"teacher.train.{key}", key, value)
    return Teacher(backbone, dict(train))


def check_teacher_backbones(exp: Experiment) -> None:
    """Every teacher's `backbone` names a [backbones.NAME] table of the experiment."""
    names = [b.name for b in exp.backbones]
    for entry in exp.methods:
        if entry.teacher and entry.teacher.backbone not in (None, *names):
            raise exp.where(f"methods.{entry.name}").error(
                "teacher.backbone", f"no backbone '{entry.teacher.backbone}'; the backbones are "
                                    f"{', '.join(names)}")


def teacher_of(exp: Experiment, student: Backbone, entry: Method) -> tuple[Backbone, Method, Config]:
    """The teacher run's backbone, and an ID-only method with its one configuration."""
    wanted = entry.teacher.backbone or student.name
    backbone = next(b for b in exp.backbones if b.name == wanted)
    train = dict(entry.teacher.train)
    config = Config(0, "teacher", {}, train, {}, {}, {k: f"teacher.train.{k}" for k in train})
    return backbone, Method(entry.name, None, (config,)), config
