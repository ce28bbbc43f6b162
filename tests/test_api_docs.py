"""The OpenAPI schema and the interactive docs page, served without the internet."""

import re

import pytest

pytestmark = pytest.mark.django_db

CONTRACT_PATHS = [
    "/api/v1/predict",
    "/api/v1/similar",
    "/api/v1/time-summary",
    "/api/v1/items/{code}",
    "/api/v1/health",
    "/api/v1/metrics",
    "/api/v1/versions",
    "/api/v1/versions/{label}/approve",
    "/api/v1/versions/{label}/activate",
    "/api/v1/versions/rollback",
    "/api/v1/training-runs",
    "/api/v1/training-runs/{id}",
    "/api/v1/workflow",
    "/api/v1/mapping-profiles",
    "/api/v1/blueprints",
    "/api/v1/routings",
    "/api/v1/auth/login",
]


def test_the_schema_lists_every_contract_endpoint(client):
    response = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["info"]["title"] == "Routing ML console API"
    missing = [p for p in CONTRACT_PATHS if p not in schema["paths"]]
    assert missing == []
    assert "requestBody" in schema["paths"]["/api/v1/predict"]["post"]


def test_the_docs_page_loads_only_local_files(client):
    response = client.get("/api/v1/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert urls and all(u.startswith("/") for u in urls), urls
    assert "swagger-ui" in html
    for url in urls:
        if url.startswith("/static/"):
            assert client.get(url).status_code == 200, url
