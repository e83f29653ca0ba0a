"""`modelport projects …`, `modelport keys …`, `modelport users …`: credentials.

Projects with their admin API key, access keys (the clouds' signed APIs) and users (their
password logins). Secrets are printed once, when they are made; the server cannot show them
again. Each command is one `Client` call rendered here in the style of `modelport.cli.output`.
Registered on the root app by `modelport.cli.main`.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from modelport.cli import output
from modelport.cli.output import JSON, state

projects = typer.Typer(help="Create and list projects.", no_args_is_help=True)
keys = typer.Typer(help="Access keys for the clouds' signed APIs.", no_args_is_help=True)
users = typer.Typer(help="Users who log in with a password.", no_args_is_help=True)

ProjectOption = Annotated[
    str | None,
    typer.Option(
        "--project", help="Project id (default: the caller's project).", show_default=False
    ),
]


# -- projects -------------------------------------------------------------------------------
@projects.command("create")
def create_project(
    ctx: typer.Context, name: Annotated[str, typer.Argument(help="Project name.")]
) -> None:
    """Create a project and print its admin API key (shown once)."""
    cli = state(ctx)
    with cli.client() as client:
        made = client.create_project(name)
    cli.emit(made, _render_new_project)


@projects.command("list")
def list_projects(ctx: typer.Context) -> None:
    """List the projects the caller sees (all of them for the installation's admin)."""
    cli = state(ctx)
    with cli.client() as client:
        page = client.list_projects()
    cli.emit(page, _render_projects)


# -- access keys ----------------------------------------------------------------------------
@keys.command("create")
def create_key(
    ctx: typer.Context,
    project: ProjectOption = None,
    member: Annotated[
        bool, typer.Option("--member", help="A member key instead of an admin key.")
    ] = False,
) -> None:
    """Create an access key and print its id and secret (the secret is shown once)."""
    cli = state(ctx)
    with cli.client() as client:
        key = client.create_access_key(project, admin=not member)
    cli.emit(key, _render_new_key)


@keys.command("list")
def list_keys(ctx: typer.Context) -> None:
    """List the access key ids of the caller's project."""
    cli = state(ctx)
    with cli.client() as client:
        page = client.list_access_keys()
    cli.emit(page, _render_keys)


@keys.command("delete")
def delete_key(
    ctx: typer.Context, key_id: Annotated[str, typer.Argument(help="Access key id.")]
) -> None:
    """Delete an access key; requests signed with it are refused from then on."""
    cli = state(ctx)
    with cli.client() as client:
        client.delete_access_key(key_id)
    cli.emit({"id": key_id, "deleted": True}, lambda c, _d: c.print(f"{key_id} deleted"))


# -- users ----------------------------------------------------------------------------------
@users.command("create")
def create_user(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="User name, unique on the server.")],
    password: Annotated[
        str,
        typer.Option(
            help="At least 8 characters; asked for when left out.",
            prompt=True,
            hide_input=True,
            show_default=False,
        ),
    ],
    project: ProjectOption = None,
    admin: Annotated[bool, typer.Option("--admin", help="An admin instead of a member.")] = False,
) -> None:
    """Create a user who logs in with a password (ZStack, IAM token API)."""
    cli = state(ctx)
    with cli.client() as client:
        user = client.create_user(name, password, project, admin=admin)
    cli.emit(user, _render_user)


# -- renderers ------------------------------------------------------------------------------
def _render_new_project(console: Console, made: JSON) -> None:
    shown = {**made["project"], "api_key": made["api_key"]}
    console.print(output.fields(shown, ["id", "name", "api_key"]))
    console.print("The API key is shown only now; keep it.")


def _render_projects(console: Console, page: JSON) -> None:
    rows = [[p["id"], p["name"]] for p in page["data"]]
    console.print(output.table(["id", "name"], rows))


def _render_new_key(console: Console, key: JSON) -> None:
    console.print(output.fields(key, ["access_key_id", "access_key_secret", "project_id"]))
    console.print("The secret is shown only now; keep it.")


def _render_keys(console: Console, page: JSON) -> None:
    rows = [[k["access_key_id"]] for k in page["data"]]
    console.print(output.table(["access key id"], rows))


def _render_user(console: Console, user: JSON) -> None:
    console.print(output.fields(user, ["id", "name", "project_id", "role"]))
