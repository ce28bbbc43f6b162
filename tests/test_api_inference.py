"""The inference API on a real waitress server: predict, similar, time summary, items, errors."""

import json

import pytest

from inference_app.runtime import runtime


@pytest.fixture
def new_item(active_model):
    """Attributes of an item the model has never seen with a routing (a held-out item)."""
    tables = runtime.model.tables
    for row in range(tables.n_items):
        if not tables.routings_of(row):
            return tables.code_of(row), {
                k: v for k, v in tables.attributes(row).items() if v is not None
            }
    pytest.fail("sample data has no item without a routing")


def routed_item():
    tables = runtime.model.tables
    return next(tables.code_of(r) for r in range(tables.n_items) if tables.routings_of(r))


def test_predict_gives_an_existing_item_its_own_routing(api, active_model):
    code = routed_item()
    status, body, headers = api.post("/api/v1/predict", {"items": [{"item_code": code}]})
    assert status == 200, body
    assert body["model_version"] == active_model.label == headers["X-Model-Version"]
    item = body["items"][0]
    assert item["status"] == "existing" and item["item_code"] == code
    own = runtime.model.tables.operations(
        runtime.model.tables.primary_routing(runtime.model.tables.row_of(code))
    )
    assert [o["op_code"] for o in item["candidates"][0]["operations"]] == [o.op_code for o in own]
    assert item["candidates"][0]["reference_items"][0]["item_code"] == code


def test_predict_proposes_ranked_candidates_for_a_new_item(api, new_item):
    code, attributes = new_item
    status, body, _ = api.post(
        "/api/v1/predict", {"items": [{"attributes": attributes}], "candidates": 3, "quantity": 25}
    )
    assert status == 200, body
    item = body["items"][0]
    assert item["status"] == "predicted"
    cands = item["candidates"]
    assert len(cands) in (1, 2, 3)
    assert [c["rank"] for c in cands] == list(range(1, len(cands) + 1))
    assert [c["score"] for c in cands] == sorted((c["score"] for c in cands), reverse=True)
    sequences = [tuple((o["op_code"], o["work_center"]) for o in c["operations"]) for c in cands]
    assert len(set(sequences)) == len(sequences), "each candidate is a distinct operation sequence"
    for cand in cands:
        assert cand["reference_items"] and all(
            r["item_code"] != code for r in cand["reference_items"]
        )
        summary = cand["time_summary"]
        expected = sum(
            o["setup_min"]
            + o["run_min"] * 25 / o["run_qty"]
            + o["queue_min"]
            + o["wait_min"]
            + o["move_min"]
            for o in cand["operations"]
        )
        assert summary["quantity"] == 25
        assert summary["lead_min"] == pytest.approx(expected, rel=1e-3)
        assert summary["p90_lead_min"] >= summary["lead_min"] - 1e-6
        first = cand["operations"][0]
        assert {
            "seq",
            "op_code",
            "op_name",
            "work_center",
            "in_house",
            "setup_min",
            "run_min",
            "run_qty",
            "queue_min",
            "wait_min",
            "move_min",
            "p80",
            "p90",
        } <= set(first)
    assert item["neighbours"] and all(0 <= n["similarity"] <= 1 for n in item["neighbours"])


def test_predict_handles_a_batch_and_caches_repeats(api, new_item):
    _, attributes = new_item
    body = {"items": [{"item_code": routed_item()}, {"attributes": attributes}]}
    first = api.post("/api/v1/predict", body)[1]
    again = api.post("/api/v1/predict", body)[1]
    assert [i["status"] for i in first["items"]] == ["existing", "predicted"]
    assert again == first
    assert runtime.cache.stats()["hits"] >= 2


def test_similar_returns_neighbours_with_matched_attributes(api, active_model):
    code = routed_item()
    status, body, _ = api.post("/api/v1/similar", {"item_code": code, "top_k": 5})
    assert status == 200, body
    sims = [n["similarity"] for n in body["neighbours"]]
    assert len(sims) == 5 and sims == sorted(sims, reverse=True)
    assert code not in [n["item_code"] for n in body["neighbours"]]
    assert any(n["matched_attributes"] for n in body["neighbours"])


def test_time_summary_arithmetic(api, active_model):
    ops = [
        {
            "seq": 10,
            "op_code": "CUT",
            "setup_min": 30,
            "run_min": 2,
            "run_qty": 1,
            "queue_min": 60,
            "wait_min": 0,
            "move_min": 10,
        },
        {
            "seq": 20,
            "op_code": "LTH1",
            "setup_min": 45,
            "run_min": 12,
            "run_qty": 4,
            "queue_min": 0,
            "wait_min": 15,
            "move_min": 5,
        },
    ]
    status, body, _ = api.post("/api/v1/time-summary", {"operations": ops, "quantity": 8})
    assert status == 200, body
    assert body["setup_min"] == 75
    assert body["run_min"] == 2 * 8 + 12 * 8 / 4
    assert body["lead_min"] == 30 + 16 + 60 + 10 + 45 + 24 + 15 + 5
    assert [o["lead_min"] for o in body["operations"]] == [116, 89]


def test_item_detail_and_unknown_item(api, active_model):
    code = routed_item()
    status, body, _ = api.get(f"/api/v1/items/{code}")
    assert status == 200 and body["item_code"] == code and body["routings"][0]["primary"]
    assert body["attributes"]
    status, body, _ = api.get("/api/v1/items/NO-SUCH-ITEM")
    assert status == 404 and body["error"] == "not_found" and "NO-SUCH-ITEM" in body["detail"]


@pytest.mark.parametrize(
    "raw, field",
    [
        (b"{not json", None),
        (b"", "items"),
        (b"[]", None),
        (json.dumps({"items": []}).encode(), "items"),
        (json.dumps({"items": [{"item_code": "X"}] * 101}).encode(), "items"),
        (
            json.dumps({"items": [{"item_code": 5, "attributes": "x"}]}).encode(),
            "items.0.attributes",
        ),
        (json.dumps({"items": [{"item_code": "A"}], "top_k": 10**12}).encode(), "top_k"),
        (json.dumps({"items": [{"item_code": "A"}], "quantity": -1}).encode(), "quantity"),
        (json.dumps({"items": [{"item_code": "A"}], "colour": "red"}).encode(), "colour"),
        (
            json.dumps({"items": [{"attributes": {"OUTDIAMETER": [1, 2]}}]}).encode(),
            "items.0.attributes",
        ),
        (json.dumps({"items": None}).encode(), "items"),
        (
            b'{"items": [{"attributes": {"OUTDIAMETER": ' + b"9" * 400 + b"}}]}",
            "items.0.attributes",
        ),
    ],
    ids=[
        "not-json",
        "empty",
        "array",
        "no-items",
        "101-items",
        "wrong-types",
        "absurd-top-k",
        "negative-quantity",
        "unknown-field",
        "list-attribute",
        "null-items",
        "huge-number",
    ],
)
def test_bad_predict_bodies_answer_400_with_the_field(api, active_model, raw, field):
    status, body, _ = api.call("POST", "/api/v1/predict", raw=raw)
    assert status == 400, body
    assert set(body) == {"error", "detail", "fields"}
    if field:
        assert any(key == field or key.startswith(field + ".") for key in body["fields"]), body


def test_unknown_item_code_without_attributes_is_not_found_alone(api, active_model):
    status, body, _ = api.post(
        "/api/v1/predict", {"items": [{"item_code": routed_item()}, {"item_code": "NOPE-1"}]}
    )
    assert status == 200, body
    first, second = body["items"]
    assert first["status"] == "existing" and second["status"] == "not_found"
    assert (
        "items.1.item_code" in second["error"]["fields"] and "NOPE-1" in second["error"]["detail"]
    )


def test_without_an_active_version_prediction_answers_503_and_health_says_why(api):
    runtime.refresh()
    status, body, _ = api.post("/api/v1/predict", {"items": [{"item_code": "A"}]})
    assert status == 503 and body["error"] == "no_model"
    assert "manage.py train" in body["detail"]
    status, health, _ = api.get("/api/v1/health")
    assert (
        status == 503
        and health["status"] == "unavailable"
        and "No active model" in health["detail"]
    )


def test_requests_are_logged_as_json_lines_with_the_request_id(api, active_model, settings):
    api.post("/api/v1/similar", {"item_code": routed_item()}, headers={"X-Request-ID": "erp-42"})
    status, _, headers = api.post("/api/v1/similar", {"item_code": routed_item()})
    assert headers["X-Request-ID"] and headers["X-Request-ID"] != "erp-42"
    import logging

    for handler in logging.getLogger("routing.requests").handlers:
        handler.flush()
    lines = [json.loads(x) for x in (settings.LOG_DIR / "requests.log").read_text().splitlines()]
    mine = [x for x in lines if x.get("request_id") == "erp-42"]
    assert mine, "the request line was not written"
    line = mine[-1]
    assert line["method"] == "POST" and line["path"] == "/api/v1/similar" and line["status"] == 200
    assert line["active_version"] == active_model.label and line["latency_ms"] > 0
    assert line["cache_hit"] is False and line["user"] == "erp-test"


def test_metrics_are_prometheus_text_for_admins_only(api, admin_api, active_model):
    api.post("/api/v1/similar", {"item_code": routed_item()})
    assert api.get("/api/v1/metrics")[0] == 403
    status, text, headers = admin_api.get("/api/v1/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    assert (
        f'routing_requests_total{{endpoint="similar",status="2xx",version="{active_model.label}"}}'
        in text
    )
    assert "routing_request_seconds_bucket" in text


def test_health_reports_the_verified_manifest(api, active_model):
    status, body, _ = api.get("/api/v1/health")
    assert status == 200 and body["status"] == "ok"
    assert body["serving_version"] == active_model.label
    assert body["manifest"]["sha256"] == active_model.manifest_sha256
    assert body["registry"]["reachable"] is True


def test_null_or_huge_values_on_every_hot_endpoint_answer_400(api, active_model):
    assert api.post("/api/v1/time-summary", {"operations": None})[0] == 400
    huge = b'{"attributes": {"OUTDIAMETER": ' + b"9" * 400 + b"}}"
    status, body, _ = api.call("POST", "/api/v1/similar", raw=huge)
    assert status == 400 and "attributes.OUTDIAMETER" in body["fields"]


def test_it_computes_percentiles_below_50(api, new_item):
    from routing_core.timesummary import summarize
    from workflow_app.models import WorkflowConfig

    op = {"setup_min": 20, "run_min": 2, "run_qty": 1, "p10": {"setup_min": 5, "run_min": 1},
          "p90": {"setup_min": 40, "run_min": 3}}  # fmt: skip
    summary = summarize([op], 10, ("p10", "p90"))
    assert (summary["p10_lead_min"], summary["lead_min"], summary["p90_lead_min"]) == (15, 40, 70)

    WorkflowConfig.apply({"percentiles": [10, 90]})
    runtime.refresh()
    _, attributes = new_item
    status, body, _ = api.post("/api/v1/predict", {"items": [{"attributes": attributes}],
                                                   "quantity": 10})  # fmt: skip
    assert status == 200, body
    summaries = [c["time_summary"] for c in body["items"][0]["candidates"]]
    assert all(s["p10_lead_min"] <= s["lead_min"] <= s["p90_lead_min"] for s in summaries)
    assert any(s["p10_lead_min"] < s["lead_min"] for s in summaries)  # not clamped to P50
    ops = [o for c in body["items"][0]["candidates"] for o in c["operations"]]
    assert all(o["p10"]["setup_min"] <= o["setup_min"] for o in ops if "p10" in o)
    # every figure says how many reference values it rests on
    assert all(0 <= o["time_samples"]["setup_min"] <= o["samples"] for o in ops)


def test_it_keys_the_similar_cache_by_one_settings_snapshot(api, active_model):
    from inference_app.runtime import SettingsSnapshot

    code, before = routed_item(), runtime.snapshot

    class PublishedMidRequest(dict):
        """Settings whose top_k read lets the poller publish top_k=3 at that very moment."""

        def __getitem__(self, key):
            if key == "top_k" and runtime.snapshot.revision == before.revision:
                runtime._apply_settings({**before.values, "top_k": 3}, before.revision + 1)
            return super().__getitem__(key)

    runtime.snapshot = SettingsSnapshot(PublishedMidRequest(before.values), before.revision)
    status, first, _ = api.post("/api/v1/similar", {"item_code": code})
    assert status == 200 and len(first["neighbours"]) == 20  # computed with the old settings
    status, second, _ = api.post("/api/v1/similar", {"item_code": code})
    assert runtime.settings["top_k"] == 3
    assert status == 200 and len(second["neighbours"]) == 3  # not the old answer from the cache


def test_it_keys_the_cache_by_the_reopened_models_ef_search(api, active_model, monkeypatch):
    from inference_app import runtime as runtime_module
    from workflow_app.models import WorkflowConfig

    code = routed_item()
    with monkeypatch.context() as patched:

        def unreachable(*args, **kwargs):
            raise OSError("models/ briefly unreachable")

        patched.setattr(runtime_module.LoadedModel, "open", unreachable)
        WorkflowConfig.apply({"hnsw_ef_search": 40})
        runtime.refresh()  # the new ef arrives before the version can be reopened with it
    assert runtime.settings["hnsw_ef_search"] == 40 and runtime.model.ef_search == 100
    assert api.post("/api/v1/similar", {"item_code": code})[0] == 200
    misses = runtime.cache.stats()["misses"]
    monkeypatch.setattr(runtime_module, "RETRY_REFUSED_S", 0.0)
    runtime.refresh()  # the reopen is tried again
    assert runtime.model.ef_search == 40 and runtime.health()["refused_versions"] == {}
    assert api.post("/api/v1/similar", {"item_code": code})[0] == 200
    assert runtime.cache.stats()["misses"] == misses + 1  # the old index's answer is not reused
