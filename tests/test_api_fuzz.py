"""API fuzzing: Schemathesis against a real waitress server of the project, with an engineer's
service token and an active model, over every operation that does not change the registry
(every GET, and the predict / similar / time-summary / validate POSTs).

Schema-valid and schema-violating requests alike must never answer 5xx, and every status the
server answers must be documented for that operation in /api/v1/schema/. Bounded to about a
minute (FUZZ_EXAMPLES per operation and generation mode).
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import status_code_conformance

from tests.conftest import issue_token

pytestmark = pytest.mark.slow

FUZZ_EXAMPLES = int(os.getenv("FUZZ_EXAMPLES", "10"))
READ_ONLY_POSTS = {
    "/api/v1/predict",
    "/api/v1/similar",
    "/api/v1/time-summary",
    "/api/v1/routings/validate",
    "/api/v1/blueprints/validate",
}
CHECKS = [not_a_server_error, status_code_conformance]
MODES = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)


def leaves_the_registry_alone(operation) -> bool:
    return operation.method.upper() == "GET" or (
        operation.method.upper() == "POST" and operation.path in READ_ONLY_POSTS
    )


def fuzz(operation, mode, base: str, session: requests.Session, seen: Counter) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=FUZZ_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def run(case):
        response = case.call(base_url=base, session=session)
        seen[(operation.method.upper(), operation.path, response.status_code)] += 1
        case.validate_response(response, checks=CHECKS)

    run()


def test_fuzzing_finds_no_server_error_and_no_undocumented_status(waitress_server, active_model):
    schema_doc = requests.get(f"{waitress_server}/api/v1/schema/?format=json", timeout=30).json()
    schema = schemathesis.openapi.from_dict(schema_doc)
    operations = [r.ok() for r in schema.get_all_operations()]
    chosen = [op for op in operations if leaves_the_registry_alone(op)]
    assert len(chosen) >= 20, [op.path for op in chosen]
    assert {"/api/v1/predict", "/api/v1/items/{code}"} <= {op.path for op in chosen}

    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {issue_token('fuzz-engineer', 'engineer')}"
    seen: Counter = Counter()
    failures = []
    started = time.monotonic()
    for operation in chosen:
        for mode in MODES:
            try:
                fuzz(operation, mode, waitress_server, session, seen)
            except Unsatisfiable:
                pass  # no schema-violating request exists (an operation without inputs)
            except (Exception, BaseExceptionGroup) as exc:  # report every operation's failure
                name = f"{operation.method.upper()} {operation.path} ({mode.value})"
                failures.append(f"{name}: {exc}")
    seconds = time.monotonic() - started
    print(f"fuzzed {len(chosen)} operations, {sum(seen.values())} requests in {seconds:.0f} s")
    print(json.dumps(sorted(Counter(s for (_, _, s) in seen.elements()).items())))
    assert failures == [], "\n\n".join(failures)
    assert not [k for k in seen if k[2] >= 500]
    statuses = {s for (_, _, s) in seen}
    assert 200 in statuses and 400 in statuses  # the run reached both the model and the checks


@pytest.mark.django_db
def test_the_schema_documents_errors_and_the_inputs_the_api_accepts(client):
    schema = client.get("/api/v1/schema/?format=json").json()
    components = schema["components"]["schemas"]
    assert components["Error"]["required"] == ["error", "detail", "fields"]
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert "503" in responses, (method, path)
            if "requestBody" in operation:
                assert {"400", "413"} <= set(responses), (method, path)
    predict = schema["paths"]["/api/v1/predict"]["post"]["responses"]
    assert {"400", "401", "403", "404", "413", "503"} <= set(predict)
    assert predict["413"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
    assert "401" not in schema["paths"]["/api/v1/health"]["get"]["responses"]
    assert components["PredictInput"]["properties"]["items"]["minItems"] == 1
    assert components["PredictInput"]["additionalProperties"] is False
    assert components["Login"]["properties"]["username"]["minLength"] == 1
    assert components["Signup"]["properties"]["username"]["minLength"] == 1
