"""The typer application every `specrec` sub-command registers itself on."""

import typer

app = typer.Typer(
    name="specrec",
    help="LLM-enhanced sequential recommendation: preprocess -> embed -> transform -> train -> "
    "evaluate -> report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
