"""The demo service `make run` deploys: an iris classifier, trained and registered if absent.

Called by the server's lifespan when `demo` is set (`modelport serve --demo`); returns the
text that tells a person how to call it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from modelport.domain.auth import DEFAULT_PROJECT, Principal, Role
from modelport.domain.errors import NotFound
from modelport.domain.models import Framework
from modelport.query.ast import Cond, ListQuery, Op
from modelport.services import models
from modelport.services.services import DeploymentSpec, ServiceOps, ServiceSpec
from modelport.store import Store

MODEL_NAME = "iris"
SERVICE_NAME = "iris-demo"


def train_iris(path: Path) -> None:
    """Train a small logistic regression on the iris data set (shipped with scikit-learn)."""
    import joblib
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    x, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=500).fit(x, y)
    path.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, path)


async def ensure_demo(store: Store, ops: ServiceOps, home: Path, base_url: str) -> str:
    async with store.read() as tx:
        project = await tx.projects.by_name(DEFAULT_PROJECT)
    if project is None:
        raise NotFound("project", DEFAULT_PROJECT)
    who = Principal(project.id, Role.ADMIN, "demo")
    path = home / "models" / "iris.joblib"
    if not path.exists():
        await asyncio.to_thread(train_iris, path)
    async with store.read() as tx:
        model = await tx.models.find(project.id, MODEL_NAME, "1")
    if model is None:
        model = await models.register(
            store,
            who,
            name=MODEL_NAME,
            uri=str(path),
            framework=Framework.SKLEARN,
            description="iris classifier (demo)",
        )
    found, _ = await ops.list(who, ListQuery(filter=Cond("name", Op.EQ, SERVICE_NAME), limit=1))
    if found:
        service = found[0]
    else:
        spec = ServiceSpec(
            name=SERVICE_NAME,
            description="demo: iris classifier",
            deployments=[DeploymentSpec(model_id=model.id, replicas=1)],
        )
        service = await ops.create(who, spec)
    key = await ops.key(who, service.id)
    return "\n".join(
        [
            f"demo service {SERVICE_NAME} ({service.id}) is deploying; call it with:",
            f"  curl -s -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' \\",
            "    -d '{\"instances\": [[5.1, 3.5, 1.4, 0.2]]}' \\",
            f"    {base_url}/services/{service.id}/v1/models/{MODEL_NAME}:predict",
        ]
    )
