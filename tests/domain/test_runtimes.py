"""`render_command`: every placeholder of a runtime's command template, for one replica."""

from __future__ import annotations

import pytest

from modelport.domain.runtimes import render_command

TEMPLATE = [
    "{python}", "serve", "{model_uri}", "--name={model_name}", "--bind", "{host}:{port}",
    "--also", "$PORT", "--gpus", "{gpus}", "{unknown}",
]  # fmt: skip


@pytest.mark.parametrize(("gpus", "rendered"), [(0, "1"), (1, "1"), (4, "4")])
def test_every_placeholder_is_filled(gpus: int, rendered: str) -> None:
    argv = render_command(
        TEMPLATE,
        host="127.0.0.1",
        port=8123,
        model_uri="/models/m",
        model_name="m",
        python="/usr/bin/python3",
        gpus=gpus,
    )
    assert argv == [
        "/usr/bin/python3", "serve", "/models/m", "--name=m", "--bind", "127.0.0.1:8123",
        "--also", "8123", "--gpus", rendered, "{unknown}",
    ]  # fmt: skip
