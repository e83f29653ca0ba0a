"""Rendering for the CLI: JSON for machines, rich tables for people, errors on stderr.

Owns `Format` (the global `--output json|table`), `Cli` (the root callback's state, kept in
`typer.Context.obj`), the `Cli.client()` context manager that turns `ApiError` into an error
message and exit code 1, and the table renderers of each resource. Called by every command
module of `modelport.cli`.
"""

from __future__ import annotations

import enum
import json
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from modelport.client import ApiError, Client
from modelport.config import Settings

JSON = dict[str, Any]


class Format(enum.StrEnum):
    JSON = "json"
    TABLE = "table"


@dataclass
class Cli:
    """What the root callback parsed; one per invocation."""

    url: str | None
    api_key: str | None
    output: Format

    @property
    def json(self) -> bool:
        return self.output == Format.JSON

    def stdout(self) -> Console:
        return Console(file=sys.stdout, highlight=False, soft_wrap=False)

    def stderr(self) -> Console:
        return Console(file=sys.stderr, highlight=False, soft_wrap=True)

    def make_client(self) -> Client:
        overrides: dict[str, Any] = {}
        if self.url:
            overrides["url"] = self.url
        if self.api_key:
            overrides["api_key"] = self.api_key
        try:
            settings = Settings(**overrides)
        except ValidationError as exc:
            self.fail(ApiError(0, "invalid", f"settings: {exc}"))
        return Client.from_settings(settings)

    @contextmanager
    def client(self) -> Iterator[Client]:
        """A client whose `ApiError`s end the command: message on stderr, exit code 1."""
        client = self.make_client()
        try:
            yield client
        except ApiError as exc:
            self.fail(exc)
        finally:
            client.close()

    def fail(self, exc: ApiError) -> NoReturn:
        if self.json:
            typer.echo(json.dumps(exc.envelope(), indent=2), err=True)
        else:
            self.stderr().print(f"[red]error:[/red] {exc.message}", markup=True)
        raise typer.Exit(1)

    def invalid(self, field: str, message: str) -> NoReturn:
        """Bad command-line input found by the CLI itself; same shape as the API's."""
        self.fail(ApiError(0, "invalid", f"{field}: {message}", {"field": field}))

    def emit(self, data: Any, render: Callable[[Console, Any], None]) -> None:
        """Print `data` as JSON (json mode) or through `render` (table mode)."""
        if self.json:
            typer.echo(json.dumps(data, indent=2))
        else:
            render(self.stdout(), data)


def state(ctx: typer.Context) -> Cli:
    obj = ctx.find_root().obj
    if not isinstance(obj, Cli):
        obj = Cli(url=None, api_key=None, output=Format.TABLE)
        ctx.find_root().obj = obj
    return obj


# -- renderers ------------------------------------------------------------------------------
def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "-"
    if isinstance(value, list):
        return " ".join(str(v) for v in value) or "-"
    return str(value)


def table(columns: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None) -> Table:
    t = Table(title=title, title_justify="left", header_style="bold")
    for name in columns:
        t.add_column(name, overflow="fold")
    for row in rows:
        t.add_row(*(_cell(v) for v in row))
    return t


def fields(data: Mapping[str, Any], keys: Sequence[str], title: str | None = None) -> Table:
    t = Table(title=title, title_justify="left", show_header=False, box=None)
    t.add_column("field", style="bold")
    t.add_column("value", overflow="fold")
    for key in keys:
        if key in data:
            t.add_row(key, _cell(data[key]))
    return t


def _footer(console: Console, page: Mapping[str, Any]) -> None:
    shown = len(page.get("data", []))
    total = page.get("total", shown)
    if total != shown:
        console.print(f"{shown} of {total} shown")


def render_model(console: Console, m: JSON) -> None:
    keys = ["id", "name", "version", "framework", "uri", "size", "description", "created_at"]
    console.print(fields(m, keys))


def render_models(console: Console, page: JSON) -> None:
    rows = [
        [m["id"], m["name"], m["version"], m["framework"], m["size"], m["uri"]]
        for m in page["data"]
    ]
    console.print(table(["id", "name", "version", "framework", "size", "uri"], rows))
    _footer(console, page)


def ready_of(s: Mapping[str, Any]) -> str:
    return f"{s.get('ready_replicas', 0)}/{s.get('replicas', 0)}"


def render_services(console: Console, page: JSON) -> None:
    rows = [
        [s["id"], s["name"], s["status"], ready_of(s), s["invocation_count"], s["url"]]
        for s in page["data"]
    ]
    console.print(table(["id", "name", "status", "ready", "invocations", "url"], rows))
    _footer(console, page)


def render_service(console: Console, s: JSON) -> None:
    shown = dict(s, ready=ready_of(s))
    keys = [
        "id", "name", "description", "status", "status_reason", "ready", "url", "auth_type",
        "lb_policy", "traffic", "tags", "owner", "desired_state", "invocation_count",
        "failure_count", "revision", "created_at", "updated_at",
    ]  # fmt: skip
    console.print(fields(shown, keys))
    rows = [
        [
            d["id"], d["model_id"], d["runtime_id"], d["status"],
            f"{d['ready_replicas']}/{d['replicas']}", d["cpu"], d["memory"], d["gpu"],
            d["weight"], d.get("invocation_count", 0), d["status_reason"],
        ]
        for d in s.get("deployments", [])
    ]  # fmt: skip
    columns = [
        "deployment", "model", "runtime", "status", "ready", "cpu", "memory", "gpu", "weight",
        "invocations", "reason",
    ]  # fmt: skip
    console.print(table(columns, rows, title="deployments"))


def render_service_line(verb: str) -> Callable[[Console, JSON], None]:
    """A one-line summary, for commands that change a service."""

    def render(console: Console, s: JSON) -> None:
        console.print(f"{s['id']} ({s['name']}) {verb}: {s['status']}, {ready_of(s)} ready")

    return render


def render_key(console: Console, k: JSON) -> None:
    console.out(k["key"], highlight=False)


def render_replicas(console: Console, page: JSON) -> None:
    rows = [
        [r["id"], r["deployment_id"], r["state"], r["address"], r["restarts"], r["last_error"]]
        for r in page["data"]
    ]
    columns = ["id", "deployment", "state", "address", "restarts", "last error"]
    console.print(table(columns, rows))


def render_events(console: Console, page: JSON) -> None:
    rows = [[e["at"], e["type"], e["reason"], e["message"]] for e in page["data"]]
    console.print(table(["at", "type", "reason", "message"], rows))
    _footer(console, page)


def render_logs(console: Console, logs: JSON) -> None:
    replicas: Mapping[str, str] = logs.get("replicas", {})
    if not replicas:
        console.print("no replicas")
    for replica_id, text in replicas.items():
        console.print(f"==> {replica_id} <==", style="bold")
        console.out(text, highlight=False)


def render_answer(console: Console, answer: Any) -> None:
    if isinstance(answer, str):
        console.out(answer, highlight=False)
    else:
        console.print_json(json.dumps(answer))
