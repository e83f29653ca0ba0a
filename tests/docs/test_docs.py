"""The docs are tested: every setting, endpoint, error code and CLI command has a doc entry.

Datasette's `tests/test_docs.py` habit. Each test reads the code's own list (the `Settings`
fields, the routes of the app `server.build` returns, `api.errors.CODES`, the typer command
tree) and checks the matching page under `docs/`. Where a page has a table of those things,
stale rows that name nothing in the code fail too. The last test keeps machine paths out of
the README and the docs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from starlette.routing import Mount, Route

from modelport.api.errors import CODES
from modelport.cli.main import app as cli_app
from modelport.config import Settings
from modelport.dialects.modelarts import status as modelarts_status
from modelport.dialects.tione import status as tione_status
from modelport.dialects.ucloud import render as ucloud_render
from modelport.domain.services import Status
from modelport.server import build

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
API_PREFIX = "/api/v1"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def read(name: str) -> str:
    return (ROOT / name).read_text(encoding="utf-8")


def section(text: str, heading: str) -> str:
    """The text under the first heading line that contains `heading`, up to the next heading."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("#") and heading in line:
            rest = []
            for following in lines[i + 1 :]:
                if following.startswith("#"):
                    break
                rest.append(following)
            return "\n".join(rest)
    raise AssertionError(f"no heading containing {heading!r}")


# -- settings ------------------------------------------------------------------------------------


def test_every_setting_is_documented() -> None:
    text = read("docs/configuration.md")
    missing = [
        f"MODELPORT_{name.upper()}"
        for name in Settings.model_fields
        if f"`MODELPORT_{name.upper()}`" not in text
    ]
    assert not missing, f"docs/configuration.md lacks {missing}"


def test_settings_table_names_only_real_settings() -> None:
    table = section(read("docs/configuration.md"), "## Settings")
    rows = re.findall(r"^\| `MODELPORT_([A-Z_]+)`", table, flags=re.MULTILINE)
    fields = {name.upper() for name in Settings.model_fields}
    assert rows, "the settings table has no rows"
    assert set(rows) <= fields, f"stale rows: {sorted(set(rows) - fields)}"
    assert len(rows) == len(set(rows)), "a setting has two rows"


# -- API -----------------------------------------------------------------------------------------


@pytest.fixture
def api_routes(tmp_path: Path) -> tuple[set[str], set[str]]:
    """(`METHOD /api/v1/path` of every API operation, the same plus the docs routes).

    The app is built without running its lifespan: no database, no controller. Operations
    are read from the OpenAPI document, which lists every `APIRoute` however FastAPI nests
    included routers.
    """
    root = build(Settings(home=tmp_path / "home", database_url=None))
    mounts = [r for r in root.routes if isinstance(r, Mount) and r.path == API_PREFIX]
    assert len(mounts) == 1, "the app has no /api/v1 mount"
    api = mounts[0].app
    assert hasattr(api, "openapi"), "/api/v1 is not a FastAPI app"
    operations = {
        f"{method.upper()} {API_PREFIX}{path}"
        for path, ops in api.openapi()["paths"].items()
        for method in ops
        if method.upper() in METHODS
    }
    plain = {
        f"{method} {API_PREFIX}{r.path}"
        for r in api.routes
        if isinstance(r, Route) and r.methods
        for method in r.methods
        if method in METHODS
    }
    return operations, operations | plain


def test_every_endpoint_is_documented(api_routes: tuple[set[str], set[str]]) -> None:
    operations, _ = api_routes
    assert f"GET {API_PREFIX}/healthz" in operations
    text = read("docs/api.md")
    missing = sorted(op for op in operations if f"`{op}`" not in text)
    assert not missing, f"docs/api.md lacks {missing}"


def test_api_doc_names_only_real_endpoints(api_routes: tuple[set[str], set[str]]) -> None:
    _, known = api_routes
    pattern = rf"`((?:{'|'.join(METHODS)}) {re.escape(API_PREFIX)}[^`\s]*)`"
    named = set(re.findall(pattern, read("docs/api.md")))
    assert not named - known, f"docs/api.md names endpoints that do not exist: {named - known}"


def test_every_error_code_is_documented() -> None:
    table = section(read("docs/api.md"), "## Errors")
    for code, status in CODES.items():
        row = re.search(rf"^\| `{re.escape(code)}` \| (\d+) \|", table, flags=re.MULTILINE)
        assert row, f"docs/api.md has no row for error code {code!r}"
        assert int(row.group(1)) == status, f"{code}: documented {row.group(1)}, is {status}"


# -- CLI -----------------------------------------------------------------------------------------


# Duck-typed: depending on its version, typer builds click's classes or its own copy of them.
def commands(cmd: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    """Every command and group under `cmd`, as ("modelport models register", command)."""
    yield " ".join(("modelport", *path)), cmd
    for name, sub in (getattr(cmd, "commands", None) or {}).items():
        yield from commands(sub, (*path, name))


def options(cmd: Any) -> set[str]:
    out: set[str] = set()
    for param in cmd.params:
        if param.param_type_name == "option":
            out.update(o for o in (*param.opts, *param.secondary_opts) if o.startswith("--"))
    return out - {"--help"}


def test_every_cli_command_and_option_is_documented() -> None:
    text = read("docs/cli.md")
    tree = list(commands(typer.main.get_command(cli_app)))
    assert len(tree) > 1, "the CLI has no commands"
    for path, cmd in tree:
        if path == "modelport":
            body = section(text, "Global options")
        else:
            assert f"`{path}`" in text, f"docs/cli.md lacks `{path}`"
            body = section(text, f"`{path}`")
        missing = sorted(o for o in options(cmd) if f"`{o}" not in body)
        assert not missing, f"docs/cli.md, section of {path}: options {missing} not documented"


def test_cli_doc_names_only_real_commands() -> None:
    real = {path for path, _ in commands(typer.main.get_command(cli_app))}
    headings = re.findall(r"^#+ `(modelport[^`]*)`", read("docs/cli.md"), flags=re.MULTILINE)
    assert headings, "docs/cli.md has no command headings"
    assert set(headings) <= real, f"stale headings: {sorted(set(headings) - real)}"


# -- dialects ------------------------------------------------------------------------------------

DIALECT_PAGES = ("ucloud", "zstack", "modelarts", "tione")


def test_dialects_page_links_each_dialect_page() -> None:
    text = read("docs/dialects.md")
    for name in DIALECT_PAGES:
        assert (DOCS / "dialects" / f"{name}.md").is_file(), f"docs/dialects/{name}.md is missing"
        assert re.search(rf"\]\(dialects/{name}\.md(#[^)]*)?\)", text), (
            f"docs/dialects.md does not link dialects/{name}.md"
        )


def test_dialects_status_table_is_total_and_matches_the_code() -> None:
    """One row per native `Status`, no stale rows, and each dialect's cell as its code maps it."""
    table = section(read("docs/dialects.md"), "## Status across the dialects")
    rows: dict[str, list[str]] = {}
    for line in table.splitlines():
        if re.match(r"^\| `[a-z]+` \|", line):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            rows[cells[0].strip("`")] = cells
    native = [s.value for s in Status]
    assert sorted(rows) == sorted(native), f"status rows {sorted(rows)}, native {native}"
    columns = {
        1: ("UCloud", ucloud_render.STATUS),
        3: ("ModelArts v1", modelarts_status.V1),
        4: ("ModelArts MaaS", modelarts_status.MAAS),
        5: ("TI-ONE", tione_status.TO_TIONE),
    }
    for status in Status:
        cells = rows[status.value]
        assert len(cells) == 6, f"row {status.value}: {len(cells)} cells, not 6"
        assert cells[2] == "—", f"row {status.value}: ZStack shows no status"
        for index, (dialect, mapping) in columns.items():
            want = f"`{mapping[status]}`"
            assert cells[index] == want, f"{status.value}, {dialect}: {cells[index]} != {want}"


# -- README and paths ----------------------------------------------------------------------------

MACHINE_PATH = re.compile(r"(?<![\w.~$}-])/(?:tmp|root|home|work)(?![\w.-])")


def test_readme_has_the_two_quick_start_commands() -> None:
    quick = section(read("README.md"), "Quick start")
    assert "make run" in quick
    assert "make test" in quick


@pytest.mark.parametrize(
    "name", ["README.md", *sorted(str(p.relative_to(ROOT)) for p in DOCS.glob("**/*.md"))]
)
def test_no_machine_paths(name: str) -> None:
    hits = [m.group(0) for m in MACHINE_PATH.finditer(read(name))]
    assert not hits, f"{name} names machine paths: {hits}"


def test_docs_exist() -> None:
    pages = {"architecture", "api", "cli", "configuration", "dialects", "operations", "runtimes"}
    assert {p.stem for p in DOCS.glob("*.md")} >= pages
