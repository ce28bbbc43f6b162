"""Zero-downtime model swaps, refused versions, and serving without the registry."""

import threading
import time

import pytest

from inference_app.runtime import runtime
from registry_app.models import ModelVersion


def wait_for(predicate, seconds=5.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_switching_versions_under_load_fails_no_request(api, quick_training, settings):
    settings.RUNTIME_POLL_SECONDS = 0.2
    first, second = quick_training(), quick_training()
    for v in (first, second):
        v.approve()
    first.activate()
    runtime.start()
    assert wait_for(lambda: runtime.model and runtime.model.label == first.label)
    code = runtime.model.tables.code_of(0)
    attrs = {k: v for k, v in runtime.model.tables.attributes(0).items() if v is not None}

    stop = threading.Event()
    results: list[tuple[int, str | None]] = []
    lock = threading.Lock()

    def client(n):
        i = 0
        while not stop.is_set():
            i += 1
            body = {
                "items": [{"attributes": {**attrs, "ITEM_NM": f"probe {n}-{i}"}}]
            }  # defeat the cache
            status, answer, _ = api.post("/api/v1/predict", body)
            with lock:
                results.append(
                    (status, answer.get("model_version") if isinstance(answer, dict) else None)
                )

    threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    try:
        for switch in range(10):
            target = second if switch % 2 == 0 else first
            ModelVersion.objects.get(pk=target.pk).activate(comment=f"switch {switch}")
            assert wait_for(lambda t=target: runtime.model.label == t.label, 2.0), (
                "swap took over 2 s"
            )
            time.sleep(0.15)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    assert results, "no request was made"
    failures = [r for r in results if r[0] != 200]
    assert failures == [], failures[:5]
    assert {v for _, v in results} == {first.label, second.label}
    assert runtime.swaps >= 11
    assert code


def test_a_corrupt_version_is_never_swapped_in(quick_training, settings, caplog):
    good, bad = quick_training(), quick_training()
    good.approve()
    good.activate()
    bad.approve()
    runtime.refresh()
    assert runtime.model.label == good.label
    bad.activate()  # verified now; corrupted afterwards, before the runtime loads it
    victim = settings.MODELS_DIR / bad.label / "svd_components.npy"
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    import logging

    logger = logging.getLogger("routing")  # does not propagate to the root logger
    logger.addHandler(caplog.handler)
    try:
        runtime.refresh()
    finally:
        logger.removeHandler(caplog.handler)
    assert runtime.model.label == good.label  # the last good version keeps serving
    health = runtime.health()
    assert health["status"] == "degraded" and "svd_components.npy" in health["detail"]
    assert any(
        "svd_components.npy" in r.getMessage() for r in caplog.records if r.levelname == "ERROR"
    )


def test_it_serves_the_last_verified_version_when_the_registry_is_unreadable(
    active_model, monkeypatch
):
    from inference_app.runtime import Runtime

    fresh = Runtime()

    def broken(*args, **kwargs):
        raise RuntimeError("database is locked")

    monkeypatch.setattr("workflow_app.config.settings_revision", broken)
    fresh.refresh()
    assert fresh.model is not None and fresh.model.label == active_model.label
    health = fresh.health()
    assert health["status"] == "degraded" and not health["registry"]["reachable"]
    assert any("Registry database unreadable" in a["message"] for a in health["alerts"])


@pytest.mark.parametrize("poll", [0.5])
def test_settings_reach_the_runtime_without_restart(transactional_db, active_model, settings, poll):
    from workflow_app.models import WorkflowConfig

    settings.RUNTIME_POLL_SECONDS = poll
    runtime.start()
    WorkflowConfig.apply({"top_k": 7, "hnsw_ef_search": 40})
    assert wait_for(lambda: runtime.settings["top_k"] == 7, 2.0)
    assert runtime.settings["hnsw_ef_search"] == 40


def test_a_fresh_process_serves_the_last_verified_version_when_the_active_one_is_broken(
    quick_training, settings
):
    from inference_app.runtime import Runtime

    good, bad = quick_training(), quick_training()
    for v in (good, bad):
        v.approve()
    good.activate()
    runtime.refresh()  # this installation verified and served the good version
    bad.activate()
    (settings.MODELS_DIR / bad.label / "index.hnsw").unlink()  # lost after activation
    fresh = Runtime()  # e.g. the service restarted
    fresh.refresh()
    assert fresh.model is not None and fresh.model.label == good.label
    health = fresh.health()
    assert health["status"] == "degraded" and health["active_version"] == bad.label
    assert "index.hnsw: missing" in health["detail"]
    assert any("Serving v0001 from models/active.json" in a["message"] for a in health["alerts"])


def test_a_refused_version_is_tried_again_once_its_folder_is_restored(
    quick_training, settings, monkeypatch
):
    import shutil

    from inference_app import runtime as runtime_module

    version = quick_training()
    version.approve()
    version.activate()
    folder = settings.MODELS_DIR / version.label
    shutil.move(folder, settings.MODELS_DIR / "aside")
    runtime.refresh()
    assert runtime.model is None and version.label in runtime.failed
    shutil.move(settings.MODELS_DIR / "aside", folder)  # the operator restores the folder
    runtime.refresh()
    assert runtime.model is None  # not hammered: retried after a pause
    monkeypatch.setattr(runtime_module, "RETRY_REFUSED_S", 0.0)
    runtime.refresh()
    assert runtime.model is not None and runtime.model.label == version.label
    assert runtime.health()["status"] == "ok"


def test_a_new_ef_is_served_by_a_new_model_object_not_by_changing_the_serving_one(active_model):
    from workflow_app.models import WorkflowConfig

    serving = runtime.model
    WorkflowConfig.apply({"hnsw_ef_search": 45})
    runtime.refresh()
    assert runtime.model is not serving and runtime.model.label == serving.label
    assert runtime.model.index.ef == 45
    assert serving.index.ef != 45  # requests still holding the old object are untouched
