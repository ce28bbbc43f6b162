"""What ``manage.py serve`` does at its start beyond the load: the poller of its workers and
the garbage collector."""

import gc
import time
from pathlib import Path

from inference_app.management.commands.serve import resume_garbage_collection
from inference_app.runtime import runtime

REPO = Path(__file__).resolve().parent.parent


def test_a_worker_poller_started_without_a_poll_polls_within_the_interval(
    transactional_db, quick_training, settings
):
    settings.RUNTIME_POLL_SECONDS = 0.2
    version = quick_training()
    version.approve()
    version.activate()
    runtime.start(refresh=False)  # what serve's workers do: their parent loaded the version
    assert runtime.model is None  # no poll in start itself
    deadline = time.monotonic() + 5
    while runtime.model is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert runtime.model is not None and runtime.model.label == version.label


def test_the_collector_is_turned_on_again_with_the_start_up_objects_frozen():
    gc.disable()
    try:
        resume_garbage_collection()
        assert gc.isenabled()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.enable()
    resume_garbage_collection()  # the collector already on (serve not started by manage.py)
    assert gc.get_freeze_count() == 0
