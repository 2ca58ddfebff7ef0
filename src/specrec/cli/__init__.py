"""The `specrec` command line: one typer sub-command per stage, each a thin wrapper."""

from __future__ import annotations

import os
import sys

import typer

from specrec.errors import SpecrecError

from specrec.cli.app import app

# Each module registers its command on `app` when imported.
from specrec.cli import preprocess, embed, transform, train, evaluate, report, plan  # noqa
from specrec.cli import finetune  # noqa

__all__ = ["app", "main"]


def main(argv: list[str] | None = None) -> None:
    """Console entry point: user errors become one line on stderr and exit status 2."""
    try:
        app(args=argv, standalone_mode=False)
    except SpecrecError as exc:
        if os.environ.get("SPECREC_DEBUG"):
            raise
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        print("aborted", file=sys.stderr)
        sys.exit(130)
    except Exception as exc:  # click usage errors come through here in non-standalone mode
        import click

        # typer >= 0.20 raises its vendored click's exceptions, which are not click.ClickException
        vendored = type(exc).__module__.startswith("typer._click") and hasattr(exc, "show")
        if isinstance(exc, click.ClickException) or vendored:
            exc.show()
            sys.exit(exc.exit_code)
        raise
