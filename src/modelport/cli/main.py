"""The root `modelport` command: global options and the command tree.

Owns `app` (the typer root) and `main()` (the console-script entry point named in
`pyproject.toml`). The root callback stores `--url`, `--api-key` and `--output` in the
context for every command; the commands live in `serve`, `models`, `services` and
`credentials`.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from modelport import __version__
from modelport.cli import credentials, models, serve, services
from modelport.cli.output import Cli, Format

app = typer.Typer(
    name="modelport",
    help="Self-hosted model inference services: deploy, call, scale, query.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    url: Annotated[
        str | None,
        typer.Option(
            envvar="MODELPORT_URL",
            help="Server URL (default: from MODELPORT_HOME/credentials, else http://HOST:PORT).",
        ),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            envvar="MODELPORT_API_KEY",
            help="API key (default: from MODELPORT_HOME/credentials).",
            show_default=False,
        ),
    ] = None,
    output_format: Annotated[
        Format,
        typer.Option("--output", "-o", case_sensitive=False, help="json for machines."),
    ] = Format.TABLE,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    ctx.obj = Cli(url=url, api_key=api_key, output=output_format)


app.command("serve")(serve.serve)
app.command("gateway")(serve.gateway)
app.command("deploy")(services.deploy)
app.command("invoke")(services.invoke)
app.command("logs")(services.logs)
app.add_typer(models.app, name="models")
app.add_typer(services.app, name="services")
app.add_typer(credentials.projects, name="projects")
app.add_typer(credentials.keys, name="keys")
app.add_typer(credentials.users, name="users")


GLOBAL_WITH_VALUE = ("--output", "-o", "--url", "--api-key")


def hoist_global_options(argv: list[str]) -> list[str]:
    """Move the root's options to the front, so `modelport keys create --output json` works
    like `modelport --output json keys create` (click reads a group's options only before
    its subcommand). Everything after `--` is left alone."""
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            rest += argv[i:]
            break
        name = arg.split("=", 1)[0]
        if name in GLOBAL_WITH_VALUE and "=" in arg:
            front.append(arg)
        elif arg in GLOBAL_WITH_VALUE and i + 1 < len(argv):
            front += argv[i : i + 2]
            i += 1
        else:
            rest.append(arg)
        i += 1
    return front + rest


def main() -> None:
    app(args=hoist_global_options(sys.argv[1:]))
