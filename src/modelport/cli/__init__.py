"""The `modelport` command line: typer commands, thin over `modelport.client.Client`.

`main.app` is the root; `serve`, `models` and `services` hold the commands, `output` the
rendering. Entry point: `modelport.cli.main:main` (and `python -m modelport`).
"""
