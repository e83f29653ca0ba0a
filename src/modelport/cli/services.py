"""`modelport deploy`, `modelport invoke`, `modelport logs` and `modelport services …`.

Each command is one or two `Client` calls rendered by `modelport.cli.output`; `deploy` also
waits for the service with a rich progress display on stderr. Registered on the root app by
`modelport.cli.main`.
"""

from __future__ import annotations

import contextlib
import json
import shlex
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from modelport.cli import output
from modelport.cli.output import JSON, Cli, state
from modelport.client import ApiError, Client

app = typer.Typer(help="Inspect and operate services.", no_args_is_help=True)

ServiceId = Annotated[str, typer.Argument(help="Service id.")]
EXAMPLE_PATHS = {
    "sklearn": ("v1/models/{name}:predict", '{"instances": [[5.1, 3.5, 1.4, 0.2]]}'),
    "onnx": ("v2/models/{name}/infer", '{"inputs": [...]}'),
    "sentence-transformers": ("v1/embeddings", '{"input": ["hello"]}'),
}


def _env(cli: Cli, pairs: list[str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            cli.invalid("--env", f"expected KEY=VALUE, got {pair!r}")
        env[key] = value
    return env


def _drop_none(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _wait(cli: Cli, client: Client, svc: JSON, timeout: float) -> JSON:
    """`wait_ready` with a progress bar on stderr (transient, so it shows on terminals only)
    and, for people (`--output table`), one line per status change."""
    console = cli.stderr()
    last = [""]
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(f"{svc['name']}: {svc['status']}", total=svc["replicas"] or 1)

        def on_progress(s: JSON) -> None:
            progress.update(
                task,
                description=f"{s['name']}: {s['status']}",
                completed=s["ready_replicas"],
                total=s["replicas"] or 1,
            )
            line = f"{s['status']} ({output.ready_of(s)} ready)"
            if s.get("status_reason") and s["status"] in ("pending", "failed"):
                line = f"{line}: {s['status_reason']}"
            if line != last[0] and not cli.json:
                last[0] = line
                progress.console.print(line, markup=False)

        try:
            return client.wait_ready(svc["id"], timeout, on_progress)
        except ApiError as exc:
            if exc.code not in ("service_failed", "timeout"):
                raise
            sid = svc["id"]
            hint = f"\n(see `modelport logs {sid}` and `modelport services events {sid}`)"
            raise ApiError(exc.status, exc.code, exc.message + hint, exc.details) from exc


def _how_to_call(console: Console, client: Client, svc: JSON) -> None:
    sid, url = svc["id"], svc["url"]
    path, body = "<path>", "<json>"
    model_id = next((d["model_id"] for d in svc["deployments"] if d["model_id"]), None)
    model: JSON = {}
    if model_id is not None:
        with contextlib.suppress(ApiError):  # the examples are a nicety; the deploy succeeded
            model = client.get_model(model_id)
        if model.get("framework") in EXAMPLE_PATHS:
            template, body = EXAMPLE_PATHS[model["framework"]]
            path = template.format(name=model["name"])
    console.print(f"service {sid} ({svc['name']}): {svc['status']}, {output.ready_of(svc)} ready")
    console.print(f"URL: {url}")
    console.print("Call it:")
    auth = ""
    if svc["auth_type"] != "none":
        auth = f' -H "Authorization: Bearer $(modelport services key {sid})"'
    console.print(
        f"  curl -X POST {url}/{path}{auth} -H 'Content-Type: application/json' -d '{body}'",
        markup=False,
        soft_wrap=True,
    )
    console.print(
        f"  modelport invoke {sid} --path '{path}' --json '{body}'", markup=False, soft_wrap=True
    )


def deploy(
    ctx: typer.Context,
    name: Annotated[str, typer.Option(help="Service name.")],
    model_id: Annotated[
        str | None, typer.Argument(help="Model id; leave out for a custom --command.")
    ] = None,
    replicas: Annotated[int, typer.Option(help="Replicas to run.")] = 1,
    runtime: Annotated[
        str | None, typer.Option(help="Runtime name or id; default: the model's framework.")
    ] = None,
    cpu: Annotated[float | None, typer.Option(help="CPU cores per replica.")] = None,
    memory: Annotated[int | None, typer.Option(help="Memory per replica, MiB.")] = None,
    gpu: Annotated[int | None, typer.Option(help="GPUs per replica.")] = None,
    env: Annotated[
        list[str] | None, typer.Option("--env", help="KEY=VALUE for the replicas; repeatable.")
    ] = None,
    command: Annotated[
        str | None,
        typer.Option(
            help="Command line of a custom replica ({python}, {host}, {port} are filled); "
            "implies --runtime command."
        ),
    ] = None,
    auth: Annotated[bool, typer.Option("--auth/--no-auth", help="Require the service key.")] = (
        True
    ),
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait until running.")] = True,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for running.")] = 300.0,
    request_timeout: Annotated[
        float | None,
        typer.Option(help="Seconds the gateway waits for a replica's answer (default 60)."),
    ] = None,
    rate_limit: Annotated[
        float | None, typer.Option(help="Requests per second each gateway admits.")
    ] = None,
    max_concurrency: Annotated[
        int | None, typer.Option(help="Requests in flight per replica before 503.")
    ] = None,
    retry: Annotated[
        bool,
        typer.Option(
            "--retry/--no-retry",
            help="Calls are safe to repeat on another replica after a failure.",
        ),
    ] = True,
) -> None:
    """Deploy MODEL_ID as a new service and wait until it runs."""
    cli = state(ctx)
    variables = _env(cli, env or [])
    traffic = _drop_none(
        {
            "timeout": request_timeout,
            "rate_limit": rate_limit,
            "max_concurrency": max_concurrency,
            "retry": None if retry else False,
        }
    )
    argv = shlex.split(command) if command is not None else None
    if argv is not None and runtime is None:
        runtime = "command"
    with cli.client() as client:
        svc = client.deploy(
            model_id, name, replicas=replicas, runtime=runtime, cpu=cpu, memory=memory,
            gpu=gpu, env=variables, command=argv, auth=auth, traffic=traffic or None,
        )  # fmt: skip
        if wait:
            svc = _wait(cli, client, svc, timeout)
        if cli.json:
            cli.emit(svc, output.render_service)
        else:
            _how_to_call(cli.stdout(), client, svc)


def invoke(
    ctx: typer.Context,
    service_id: ServiceId,
    body: Annotated[
        str | None,
        typer.Option("--json", help="Request body: JSON text, or @FILE to read it from a file."),
    ] = None,
    path: Annotated[
        str, typer.Option(help="Path under the service URL, e.g. v1/models/iris:predict.")
    ] = "",
    method: Annotated[str, typer.Option(help="HTTP method.")] = "POST",
    key: Annotated[
        str | None,
        typer.Option(envvar="MODELPORT_SERVICE_KEY", help="Service key; fetched if left out."),
    ] = None,
) -> None:
    """Call a service through the gateway and print the model's answer."""
    cli = state(ctx)
    payload: Any = None
    if body is not None:
        text = body
        if body.startswith("@"):
            try:
                text = Path(body[1:]).read_text()
            except OSError as exc:
                cli.invalid("--json", f"cannot read {body[1:]!r}: {exc.strerror}")
        try:
            payload = json.loads(text)
        except ValueError as exc:
            cli.invalid("--json", f"not valid JSON: {exc}")
    with cli.client() as client:
        answer = client.invoke(service_id, path, payload, key=key, method=method)
    if cli.json:
        typer.echo(answer if isinstance(answer, str) else json.dumps(answer))
    else:
        output.render_answer(cli.stdout(), answer)


def logs(
    ctx: typer.Context,
    service_id: ServiceId,
    replica: Annotated[str | None, typer.Option(help="Only this replica.")] = None,
    tail: Annotated[int, typer.Option(help="Lines per replica.")] = 100,
) -> None:
    """Print the last lines of each replica's log."""
    cli = state(ctx)
    with cli.client() as client:
        out = client.logs(service_id, replica=replica, tail=tail)
    cli.emit(out, output.render_logs)


# -- modelport services … -------------------------------------------------------------------
@app.command("list")
def list_(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="Only this status (a,b for several).")] = None,
    name: Annotated[str | None, typer.Option(help="Only services with this name.")] = None,
    model: Annotated[str | None, typer.Option(help="Only services serving this model id.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 100,
    offset: Annotated[int, typer.Option(help="Skip this many.")] = 0,
    sort: Annotated[str | None, typer.Option(help="e.g. `-created_at,name`.")] = None,
) -> None:
    """List services."""
    cli = state(ctx)
    with cli.client() as client:
        page = client.list_services(
            limit=limit, offset=offset, sort=sort, status=status, name=name, model_id=model
        )
    cli.emit(page, output.render_services)


@app.command("get")
def get(ctx: typer.Context, service_id: ServiceId) -> None:
    """Show one service and its deployments."""
    cli = state(ctx)
    with cli.client() as client:
        svc = client.get_service(service_id)
    cli.emit(svc, output.render_service)


@app.command("scale")
def scale(
    ctx: typer.Context,
    service_id: ServiceId,
    replicas: Annotated[int, typer.Argument(help="Desired replicas.")],
    deployment: Annotated[
        str | None, typer.Option(help="Deployment id; needed when there are several.")
    ] = None,
) -> None:
    """Set the number of replicas."""
    cli = state(ctx)
    with cli.client() as client:
        svc = client.scale(service_id, replicas, deployment)
    cli.emit(svc, output.render_service_line(f"scaled to {replicas}"))


@app.command("stop")
def stop(ctx: typer.Context, service_id: ServiceId) -> None:
    """Stop every replica; the service keeps its spec."""
    cli = state(ctx)
    with cli.client() as client:
        svc = client.stop(service_id)
    cli.emit(svc, output.render_service_line("stopping"))


@app.command("start")
def start(ctx: typer.Context, service_id: ServiceId) -> None:
    """Start a stopped service again."""
    cli = state(ctx)
    with cli.client() as client:
        svc = client.start(service_id)
    cli.emit(svc, output.render_service_line("starting"))


@app.command("delete")
def delete(ctx: typer.Context, service_id: ServiceId) -> None:
    """Stop and delete a service."""
    cli = state(ctx)
    with cli.client() as client:
        svc = client.delete_service(service_id)
    cli.emit(svc, output.render_service_line("deleting"))


@app.command("key")
def key(
    ctx: typer.Context,
    service_id: ServiceId,
    rotate: Annotated[bool, typer.Option(help="Replace the key; the old one stops working.")] = (
        False
    ),
) -> None:
    """Print the service key callers send as `Authorization: Bearer <key>`."""
    cli = state(ctx)
    with cli.client() as client:
        out = client.rotate_key(service_id) if rotate else client.service_key(service_id)
    cli.emit(out, output.render_key)


@app.command("replicas")
def replicas(ctx: typer.Context, service_id: ServiceId) -> None:
    """List the service's replicas."""
    cli = state(ctx)
    with cli.client() as client:
        page = client.replicas(service_id)
    cli.emit(page, output.render_replicas)


@app.command("events")
def events(
    ctx: typer.Context,
    service_id: ServiceId,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 100,
    offset: Annotated[int, typer.Option(help="Skip this many.")] = 0,
) -> None:
    """Status changes and warnings of the service, newest first."""
    cli = state(ctx)
    with cli.client() as client:
        page = client.events(service_id, limit=limit, offset=offset)
    cli.emit(page, output.render_events)


@app.command("stats")
def stats(
    ctx: typer.Context,
    service_id: ServiceId,
    minutes: Annotated[int, typer.Option(help="Minutes to sum, 1 to 60.")] = 5,
) -> None:
    """Requests, failures, rate and latency of the last minutes, per deployment and minute."""
    cli = state(ctx)
    with cli.client() as client:
        out = client.service_stats(service_id, minutes=minutes)
    cli.emit(out, _render_stats)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _render_stats(console: Console, s: JSON) -> None:
    summary = {
        "service": s["service_id"],
        "window": f"{s['window_seconds'] // 60} min",
        "requests": s["requests"],
        "failures": s["failures"],
        "requests/s": f"{s['requests_per_second']:.3f}",
        "p50 ms": _ms(s["p50_ms"]),
        "p99 ms": _ms(s["p99_ms"]),
    }
    console.print(output.fields(summary, list(summary)))
    rows = [
        [
            d["deployment_id"], d["requests"], d["failures"], f"{d['requests_per_second']:.3f}",
            _ms(d["p50_ms"]), _ms(d["p99_ms"]),
        ]
        for d in s["deployments"]
    ]  # fmt: skip
    columns = ["deployment", "requests", "failures", "requests/s", "p50 ms", "p99 ms"]
    console.print(output.table(columns, rows, title="deployments"))
    rows = [
        [m["minute"], m["requests"], m["failures"], _ms(m["p50_ms"]), _ms(m["p99_ms"])]
        for m in s["minutes"]
    ]
    console.print(
        output.table(["minute", "requests", "failures", "p50 ms", "p99 ms"], rows, title="minutes")
    )
