"""schemathesis against the native OpenAPI: every operation, as the project admin.

The schema is read from `GET /api/v1/openapi.json` of a real server (`server`, see
conftest.py). Every operation is called with generated data, valid (positive) and invalid
(negative); an operation with path parameters is called on generated ids, and again on the
ids of objects made for it (a service with two deployments, a model, an access key, the
built-in `command` runtime), so that the fuzz reaches past the lookup. Each answer must be no
5xx, a status the
operation declares, of the declared content type, with a body and headers that match the
declared schema (the error envelope included), and invalid data must be refused (4xx).
Deterministic (`derandomize`); no example database. The run prints its case count.
"""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode, checks
from tests.fuzz.conftest import Server

GENERATED_IDS = 6  # examples per operation and mode on generated path parameters
EXAMPLES = 15  # per operation and mode on real objects (or with no path parameters)
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
    checks.negative_data_rejection,
]
COMMAND = ["{python}", "-m", "http.server", "--bind", "{host}", "{port}"]


def made_for(server: Server, n: int) -> dict[str, str]:
    """Path parameters naming objects of the caller's project, made for one fuzz run alone
    (a fuzzed DELETE then takes nothing from another)."""
    model = server.api("POST", "/models", json={"name": f"model-{n}"})
    dep = {"runtime": "command", "command": COMMAND, "replicas": 1}
    body = {"name": f"service-{n}", "deployments": [dep, {**dep, "weight": 0}]}
    svc = server.api("POST", "/services", json=body)
    key = server.api("POST", "/access-keys", json={"admin": False})
    return {
        "model_id": model["id"],
        "ref": "command",
        "service_id": svc["id"],
        "deployment_id": svc["deployments"][1]["id"],
        "key_id": key["access_key_id"],
    }


def test_every_operation(server: Server) -> None:
    schema = schemathesis.openapi.from_url(f"{server.url}/api/v1/openapi.json")
    # every call is the admin's: the negative cases break parameters and bodies, not the key
    schema.config.generation.update(with_security_parameters=False)
    auth = {"Authorization": f"Bearer {server.api_key}"}
    base = f"{server.url}/api/v1"
    cases: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    failures: dict[str, str] = {}

    def fuzz(operation: Any, mode: GenerationMode, examples: int, **fixed: Any) -> None:
        @given(case=operation.as_strategy(mode, **fixed))
        @settings(
            max_examples=examples,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        def call(case: schemathesis.Case) -> None:
            cases[case.operation.label] += 1
            response = case.call_and_validate(base_url=base, headers=auth, checks=CHECKS)
            statuses[response.status_code] += 1

        try:
            call()
        except (AssertionError, BaseExceptionGroup) as exc:  # every operation reports
            failures[f"{operation.label} ({mode.value}{', real ids' if fixed else ''})"] = str(exc)

    made = itertools.count()
    for result in schema.get_all_operations():
        operation = result.ok()
        names = {p.name for p in operation.path_parameters}
        # a path parameter is any text: only a query or a body can be made invalid
        negatable = len(operation.query) > 0 or len(operation.body) > 0
        modes = [GenerationMode.POSITIVE] + ([GenerationMode.NEGATIVE] if negatable else [])
        for mode in modes:
            if not names:
                fuzz(operation, mode, EXAMPLES)
                continue
            fuzz(operation, mode, GENERATED_IDS)
            real = {k: v for k, v in made_for(server, next(made)).items() if k in names}
            fuzz(operation, mode, EXAMPLES, path_parameters=real)
    print(f"\n{sum(cases.values())} cases over {len(cases)} operations; statuses {dict(statuses)}")
    assert not failures, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())
    assert 401 not in statuses and 500 not in statuses
