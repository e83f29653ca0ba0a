"""`modelport models …`: register, list, get and delete models.

Each command is one `Client` call rendered by `modelport.cli.output`. Registered on the root
app by `modelport.cli.main`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from modelport.cli import output
from modelport.cli.output import state

app = typer.Typer(help="Register and inspect models.", no_args_is_help=True)


@app.command("register")
def register(
    ctx: typer.Context,
    path: Annotated[
        Path, typer.Argument(help="Model file or directory (on the server's machine).")
    ],
    name: Annotated[str, typer.Option(help="Model name.")],
    framework: Annotated[
        str | None,
        typer.Option(help="sklearn, onnx, sentence-transformers or custom; detected if left out."),
    ] = None,
    version: Annotated[str, typer.Option(help="Model version.")] = "1",
    description: Annotated[str, typer.Option(help="Free text.")] = "",
) -> None:
    """Register the model artifact at PATH."""
    cli = state(ctx)
    with cli.client() as client:
        model = client.register_model(path, name, framework, version, description)
    cli.emit(model, output.render_model)


@app.command("list")
def list_(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Option(help="Only models with this name.")] = None,
    framework: Annotated[str | None, typer.Option(help="Only this framework.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 100,
    offset: Annotated[int, typer.Option(help="Skip this many.")] = 0,
    sort: Annotated[str | None, typer.Option(help="e.g. `-created_at,name`.")] = None,
) -> None:
    """List registered models."""
    cli = state(ctx)
    with cli.client() as client:
        page = client.list_models(
            limit=limit, offset=offset, sort=sort, name=name, framework=framework
        )
    cli.emit(page, output.render_models)


@app.command("get")
def get(ctx: typer.Context, model_id: Annotated[str, typer.Argument(help="Model id.")]) -> None:
    """Show one model."""
    cli = state(ctx)
    with cli.client() as client:
        model = client.get_model(model_id)
    cli.emit(model, output.render_model)


@app.command("delete")
def delete(ctx: typer.Context, model_id: Annotated[str, typer.Argument(help="Model id.")]) -> None:
    """Delete a model no service uses."""
    cli = state(ctx)
    with cli.client() as client:
        client.delete_model(model_id)
    cli.emit({"id": model_id, "deleted": True}, lambda c, _d: c.print(f"{model_id} deleted"))
