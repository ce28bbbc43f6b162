"""The ERP contract on a real server: discoverable inputs, exact names, per-item batch status."""

import pytest

from inference_app.runtime import runtime


def _routed_and_unrouted():
    tables = runtime.model.tables
    routed = next(tables.code_of(r) for r in range(tables.n_items) if tables.routings_of(r))
    row = next(r for r in range(tables.n_items) if not tables.routings_of(r))
    attrs = {k: v for k, v in tables.attributes(row).items() if v is not None}
    return routed, attrs


def test_model_describes_every_attribute_of_the_serving_version(api, active_model):
    status, body, _ = api.get("/api/v1/model")
    assert status == 200, body
    assert body["model_version"] == active_model.label
    names = [a["name"] for a in body["attributes"]]
    assert names == [c.name for c in runtime.model.encoder.codecs]
    by_name = {a["name"]: a for a in body["attributes"]}
    outer = by_name["OUTDIAMETER"]
    assert outer["kind"] == "numeric" and outer["json_type"] == "number"
    assert outer["range"]["min"] <= outer["range"]["max"]
    assert all(isinstance(v, (int, float)) for v in outer["examples"])
    material = by_name["ITEM_MATERIAL"]
    assert material["kind"] == "categorical" and material["examples"]
    assert "quantity" in body["quantity"]["convention"]
    status, answer, _ = api.post("/api/v1/predict", body["example_request"])
    assert status == 200, answer
    assert answer["items"][0]["status"] == "predicted"


@pytest.mark.parametrize("name, expected", [("material", "MATERIAL_DESC"), ("Materiall", "")])
def test_an_unknown_attribute_name_answers_400_with_the_closest_names(
    api, active_model, name, expected
):
    body = {"items": [{"attributes": {"ITEM_MATERIAL": "SUS304", name: "SUS304"}}]}
    status, answer, _ = api.post("/api/v1/predict", body)
    assert status == 400, answer
    path = f"items.0.attributes.{name}"
    assert list(answer["fields"]) == [path]
    message = answer["fields"][path][0]
    assert repr(name) in message and "did you mean" in message
    assert expected in message and "MATERIAL" in message


def test_unknown_attributes_may_be_ignored_on_request(api, active_model):
    _, attrs = _routed_and_unrouted()
    body = {"items": [{"attributes": {**attrs, "colour": "red"}}], "unknown_attributes": "ignore"}
    status, answer, _ = api.post("/api/v1/predict", body)
    assert status == 200, answer
    assert answer["items"][0]["status"] == "predicted"
    status, answer, _ = api.post("/api/v1/predict", {**body, "unknown_attributes": "maybe"})
    assert status == 400 and "unknown_attributes" in answer["fields"]


def test_text_for_a_numeric_attribute_answers_400_with_the_path(api, active_model):
    for path in ("/api/v1/predict", "/api/v1/similar"):
        item = {"attributes": {"OUTDIAMETER": "wide"}}
        status, answer, _ = api.post(path, {"items": [item]} if "predict" in path else item)
        assert status == 400, answer
        field = ("items.0." if "predict" in path else "") + "attributes.OUTDIAMETER"
        assert field in answer["fields"] and "number" in answer["fields"][field][0]
    status, answer, _ = api.post(
        "/api/v1/predict", {"items": [{"attributes": {"OUTDIAMETER": "120.5"}}]}
    )
    assert status == 200, answer


def test_a_batch_answers_each_item_in_order_with_its_own_status(api, active_model):
    routed, attrs = _routed_and_unrouted()
    items = [
        {"item_code": "NOPE-404"},
        {"item_code": routed},
        {},
        {"item_code": "NEW-1", "attributes": attrs},
        {"attributes": {"OUTDIAMETER": None}},
    ]
    status, answer, _ = api.post("/api/v1/predict", {"items": items})
    assert status == 200, answer
    got = [(i["item_code"], i["status"]) for i in answer["items"]]
    assert got == [
        ("NOPE-404", "not_found"),
        (routed, "existing"),
        (None, "invalid"),
        ("NEW-1", "predicted"),
        (None, "invalid"),
    ]
    assert answer["items"][0]["error"]["fields"] == {
        "items.0.item_code": ["unknown item 'NOPE-404'"]
    }
    assert "items.2.item_code" in answer["items"][2]["error"]["fields"]


def test_an_item_code_sent_as_a_number_answers_400(api, active_model):
    for path, body, field in (
        ("/api/v1/predict", {"items": [{"item_code": 12345}]}, "items.0.item_code"),
        ("/api/v1/similar", {"item_code": 12345}, "item_code"),
    ):
        status, answer, _ = api.post(path, body)
        assert status == 400 and field in answer["fields"], answer
        assert "string" in answer["fields"][field][0]


def test_item_detail_gives_attributes_in_their_kinds_json_type(api, active_model):
    routed, _ = _routed_and_unrouted()
    status, body, _ = api.get(f"/api/v1/items/{routed}")
    assert status == 200, body
    kinds = {c.name: c.kind for c in runtime.model.encoder.codecs}
    numeric = [k for k in body["attributes"] if kinds[k] == "numeric"]
    assert numeric, body["attributes"]
    for name, value in body["attributes"].items():
        expected = (int, float) if kinds[name] == "numeric" else str
        assert isinstance(value, expected) and not isinstance(value, bool), (name, value)


def test_the_model_description_needs_credentials(waitress_server, active_model):
    from tests.conftest import Api

    status, body, _ = Api(waitress_server).get("/api/v1/model")
    assert status == 401 and set(body) == {"error", "detail", "fields"}
