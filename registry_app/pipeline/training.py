"""One training run, end to end: extract → features ‖ tables → index → evaluate → package.

Crash safety: the version's files are written into ``models/.tmp-<label>-<pid>/`` and renamed to
``models/<label>/`` only when the manifest is complete; the registry row moves from *training*
to *pending* only after that rename. A killed run leaves a temp folder and a row in *training*;
:func:`recover_interrupted` (called before every run and when the task cluster starts) deletes
the former and marks the latter and its run *failed*. A file lock in ``models/`` makes sure only
one training runs at a time across processes; the OS releases it when a process dies.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from filelock import FileLock, Timeout

from registry_app.models import AuditEntry, ModelVersion, RunState, TrainingRun, VersionState
from registry_app.pipeline import forking
from registry_app.pipeline import index as hnsw
from registry_app.pipeline import manifest as mf
from registry_app.pipeline.feedback import merge_feedback, never_held_out
from registry_app.pipeline.tables import build_tables, save_tables
from registry_app.pipeline.weightsearch import training_weights
from routing_core.features import FeatureEncoder
from routing_core.numbers import number_locale
from routing_site.errors import Conflict
from routing_site.locks import serialise

log = logging.getLogger("routing.training")

# stage -> (start, end) share of the whole run, for the progress bar; stages that run side by
# side (BESIDE) share their span
STAGES = {
    "extract": (0.00, 0.30),
    "weights": (0.30, 0.30),  # only with "weights": "learn"; its messages count weight sets
    "features": (0.30, 0.50),
    "tables": (0.30, 0.50),
    "index": (0.50, 0.85),
    "evaluate": (0.85, 0.98),
    "package": (0.98, 1.00),
}
# stages whose seconds overlap: the tables are built in a forked process while the features are
# built in the main thread, so their seconds add up to more than wall. (The index is built in a
# thread from the end of the features on, beside whatever of the tables' process is left and
# the evaluation's preparation, which is no stage of its own.)
BESIDE = {"tables": "features"}


def lock_path() -> Path:
    settings.MODELS_DIR.mkdir(parents=True, exist_ok=True)
    return settings.MODELS_DIR / ".training.lock"


def training_lock() -> FileLock:
    return FileLock(str(lock_path()), timeout=0)


def busy_message(run: TrainingRun | None) -> str:
    if run is None:
        return "A training is already running (another process holds models/.training.lock)."
    started = run.started_at or run.created_at
    return (
        f"Training already running (run {run.pk}, {run.state}, started "
        f"{timezone.localtime(started):%Y-%m-%d %H:%M:%S}, stage {run.stage or 'queued'}). "
        "Wait for it to finish or follow it in the admin under Training runs."
    )


def request_run(profile_name: str, user=None, trigger: str = "manual") -> TrainingRun:
    """Create the queued run row, refusing while another run is queued or running."""
    recover_interrupted()
    with transaction.atomic():
        serialise("training runs")  # two requests at once: the second sees the first's run
        current = TrainingRun.running()
        if current is not None:
            raise Conflict(busy_message(current), code="training_running")
        return TrainingRun.objects.create(
            profile_name=profile_name or "",
            requested_by=user if getattr(user, "pk", None) else None,
            trigger=trigger,
        )


def recover_interrupted() -> int:
    """Mark runs/versions left by a killed training as failed; remove half-written folders."""
    try:
        with training_lock():
            fixed = 0
            for run in TrainingRun.objects.filter(state=RunState.RUNNING):
                run.fail(
                    "Interrupted: the training process stopped before finishing "
                    f"(it was at stage {run.stage or 'start'}). Start a new training."
                )
                fixed += 1
            for version in ModelVersion.objects.filter(state=VersionState.TRAINING):
                _fail_version(version, "Interrupted training; no files were kept.")
                fixed += 1
            stale = timezone.now() - timedelta(seconds=settings.Q_CLUSTER["retry"])
            for run in TrainingRun.objects.filter(state=RunState.QUEUED, created_at__lt=stale):
                run.fail(
                    "Never started: no task cluster picked it up in time. Is "
                    "`manage.py qcluster` (or its service) running? Start a new training."
                )
                fixed += 1
            for tmp in settings.MODELS_DIR.glob(".tmp-*"):
                shutil.rmtree(tmp, ignore_errors=True)
            return fixed
    except Timeout:
        return 0  # a training is running right now: nothing is stale


def _fail_version(version: ModelVersion, message: str) -> None:
    with transaction.atomic():
        before = version.state
        version.state = VersionState.FAILED
        version.status_message = message[:2000]
        version.save(update_fields=["state", "status_message"])
        AuditEntry.record(version, "fail", before, version.state, None, message[:500])


class Progress:
    """Writes stage progress to the run row (throttled) and to an optional printer."""

    def __init__(self, run: TrainingRun, echo: Callable[[str], None] | None = None):
        self.run, self.echo, self._last, self._overall = run, echo, 0.0, 0.0
        self._stage_started: dict[str, float] = {}

    def stage(self, name: str) -> None:
        self._stage_started[name] = time.monotonic()
        self.update(name, 0.0, "started")

    def done(self, name: str, message: str = "", seconds: float | None = None) -> None:
        """``seconds``: the stage's own, for a stage that ran in a thread and is reported when
        the main thread collects it (default: since :meth:`stage`)."""
        if seconds is None:
            seconds = time.monotonic() - self._stage_started.get(name, time.monotonic())
        self.run.timings[name] = round(seconds, 2)
        log.info(
            "stage done", extra={"run": self.run.pk, "stage": name, "seconds": round(seconds, 2)}
        )
        self.update(name, 1.0, f"done in {seconds:.1f}s {message}".strip(), force=True)

    def update(self, stage: str, fraction: float, message: str = "", force: bool = False) -> None:
        lo, hi = STAGES.get(stage, (0.0, 1.0))
        overall = lo + (hi - lo) * max(0.0, min(1.0, fraction))
        self._overall = overall
        now = time.monotonic()
        if force or message or now - self._last > 0.5:
            self._last = now
            self.run.report(stage, overall, message)
        if self.echo and message:
            self.echo(f"[{overall * 100:5.1f}%] {stage}: {message}")

    def note(self, stage: str, message: str) -> None:
        """A message of a stage that runs beside another, at the run's current progress."""
        lo, hi = STAGES.get(stage, (0.0, 1.0))
        self.update(stage, (self._overall - lo) / ((hi - lo) or 1.0), message)

    def callback(self, stage: str) -> Callable[[str, float, str], None]:
        return lambda _sub, fraction, message="": self.update(stage, fraction, message)


def execute_run(run_id: int, echo: Callable[[str], None] | None = None) -> ModelVersion:
    """Run a queued training in this process (the django-q task and ``train --wait`` call it)."""
    from workflow_app.config import current_settings, get_input_profile
    from workflow_app.preview import check_against_source

    try:
        lock = training_lock()
        lock.acquire()
    except Timeout:
        run = TrainingRun.objects.get(pk=run_id)
        run.fail(busy_message(None))
        raise Conflict(busy_message(None), code="training_running") from None
    try:
        run = TrainingRun.objects.get(pk=run_id)
        run.start(pid=os.getpid())
        progress = Progress(run, echo)
        version = None
        try:
            profile = get_input_profile(run.profile_name or None)
            config = current_settings()
            check_against_source(profile)  # every problem at once, before a label is taken
            version = _reserve_version(run, profile["name"])
            progress.update(
                "extract", 0.0, f"training {version.label} with profile {profile['name']}"
            )
            version = train_version(version, profile, config, progress)
            run.finish(version)
            log.info("training succeeded", extra={"run": run.pk, "version": version.label})
            return version
        except BaseException as exc:  # noqa: BLE001 - a KeyboardInterrupt must fail the run too
            detail = f"{type(exc).__name__}: {exc}\n\n{traceback.format_exc()}"
            run.fail(detail)
            if version is not None:
                version.refresh_from_db()
                if version.state == VersionState.TRAINING:
                    _fail_version(version, f"{type(exc).__name__}: {exc}")
            log.error("training failed", extra={"run": run.pk, "error": str(exc)})
            raise
    finally:
        lock.release()


def _reserve_version(run: TrainingRun, profile_name: str) -> ModelVersion:
    with transaction.atomic():
        number = (ModelVersion.objects.aggregate(m=Max("number"))["m"] or 0) + 1
        version = ModelVersion.objects.create(
            number=number,
            label=ModelVersion.label_for(number),
            state=VersionState.TRAINING,
            profile_name=profile_name,
            requested_by=run.requested_by,
        )
        AuditEntry.record(
            version, "train", "", VersionState.TRAINING, run.requested_by, f"run {run.pk}"
        )
        run.version = version
        run.save(update_fields=["version"])
    return version


def train_version(version: ModelVersion, profile: dict, config: dict, progress: Progress):
    from registry_app.pipeline.extract import extract

    tmp = settings.MODELS_DIR / f".tmp-{version.label}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        progress.stage("extract")
        data = extract(profile, progress=progress.callback("extract"))
        counts = {
            "items": int(len(data.items)),
            "operations": int(len(data.operations)),
            "work_results": int(len(data.work_results)),
        }
        progress.done("extract", f"{counts['items']} items, {counts['operations']} operations")
        data, feedback = merge_feedback(data, profile, config.get("feedback", "add"))
        counts.update({k: feedback[k] for k in ("feedback_routings", "overridden_items")})
        built = build_artifacts(tmp, data, profile, config, progress, feedback["items"])
        body = {
            "label": version.label,
            "created_at": timezone.now().isoformat(),
            "profile": profile,
            "workflow": config,
            "parameters": built["parameters"],
            "data_counts": {**counts, **built["counts"]},
            "extract_report": data.report.as_dict(),
            "feedback": {k: v for k, v in feedback.items() if k != "items"},
            "metrics": built["metrics"],
        }
        progress.stage("package")
        manifest_sha = mf.write_manifest(tmp, built["files"], body)
        final = settings.MODELS_DIR / version.label
        if final.exists():
            raise Conflict(f"{final} already exists; refusing to overwrite a version folder.")
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    try:
        with transaction.atomic():
            version.state = VersionState.PENDING
            version.manifest_sha256 = manifest_sha
            version.metrics = built["metrics"]
            version.data_counts = body["data_counts"]
            version.parameters = built["parameters"]
            version.status_message = "Trained; awaiting approval."
            version.save()
            progress.done("package", f"{final}")
            AuditEntry.record(
                version,
                "trained",
                VersionState.TRAINING,
                VersionState.PENDING,
                version.requested_by,
                "",
            )
    except BaseException:
        shutil.rmtree(final, ignore_errors=True)  # no files without a row that owns them
        raise
    return version


def build_artifacts(
    folder: Path, data, profile: dict, config: dict, progress: Progress, feedback_items=()
) -> dict:
    """Everything the runtime loads, written into ``folder``; returns files, params, metrics.

    The tables, then the stored evaluation's families, are built in a process forked beside
    the features (:mod:`~registry_app.pipeline.forking`; a thread where there is no fork):
    they need only the extracted frames and the routed rows, and in a process their Python
    loops do not take turns with the features' own. The index is built in a thread, on both
    cores, as soon as the vectors are there, beside the rest of the tables' process and the
    evaluation's preparation (held-out sample, attribute-value keys; see :data:`BESIDE`);
    hnswlib's ``add_items`` releases the interpreter lock. Only the main thread reports
    progress (it writes the run row).
    ``feedback_items``: codes of items whose routing came from a saved routing; the stored
    evaluation never holds them out."""
    attributes = profile["attributes"]
    names = [a["name"] for a in attributes]
    items = sorted_items(data.items)

    weights, search = training_weights(items, data, profile, config, progress)
    labels = routed_rows(items, data.operations)
    params = hnsw.parameters(config)
    planned = _evaluated(config, labels)
    # the families in the tables' process; in a thread they would hold up the features
    families = attributes if planned and forking.can_fork() else None
    tables_work = partial(_tables_stage, folder, items, data, names, labels, families)
    with ThreadPoolExecutor(1, thread_name_prefix="index") as pool:
        progress.stage("features")
        progress.stage("tables")
        with forking.beside(tables_work, "tables") as tabling:
            encoder, vectors, files = _features(folder, items, attributes, weights, profile, config)
            progress.done("features", f"{vectors.shape[0]} vectors of dimension {encoder.dim}")
            progress.stage("index")
            building = pool.submit(_index_stage, folder, vectors[labels], labels, params)
            del vectors  # the thread holds the routed items' vectors; the rest is not needed
            tabled = tabling.result()
        files += tabled.files
        vars(data.report).update(vars(tabled.report))  # what the tables counted, if forked
        progress.done(
            "tables",
            f"{len(labels)} items with routings, {tabled.routings} routings",
            seconds=tabled.seconds,
        )
        evaluation = (
            _evaluation_plan(
                folder, encoder, tabled, names, items, config, attributes, feedback_items
            )
            if planned
            else None
        )
        progress.note("index", "evaluation prepared; waiting for the index")
        index, recall, linked = building.result()
    files.append(hnsw.INDEX_FILE)
    progress.done(
        "index",
        f"{len(labels)} items indexed, {linked} linked by the island repair, "
        f"recall@10 {recall:.4f}",
    )

    progress.stage("evaluate")
    metrics = {"index_recall_at_10": round(recall, 4), "index_islands_linked": linked}
    if evaluation is not None:
        metrics.update(evaluation.run(index, progress.callback("evaluate")))
    if search:
        metrics["weight_search"] = search
    progress.done("evaluate", _metrics_line(metrics))
    parameters = {
        "embedding_dim": encoder.dim,
        "n_features": encoder.n_features,
        "hnsw": params,
        "attributes": [
            {"name": c.name, "kind": c.kind, "weight": c.weight} for c in encoder.codecs
        ],
    }
    counts = {"indexed_items": int(len(labels)), "routings": tabled.routings}
    return {"files": files, "parameters": parameters, "metrics": metrics, "counts": counts}


def _features(folder: Path, items, attributes: list[dict], weights, profile: dict, config: dict):
    """(encoder, one vector per item, the encoder's files): the *features* stage."""
    encoder = FeatureEncoder.from_attributes(
        attributes,
        weights,
        config["embedding_dim"],
        locale=number_locale(profile),
    )
    vectors = encoder.fit_transform(ItemColumns(items, [a["name"] for a in attributes]), seed=0)
    return encoder, vectors, encoder.save(folder)


class ItemColumns(Mapping):
    """The items' attribute columns as object arrays, each made when it is read: the encoder
    factorises them one at a time, so they are never all held at once (beside the tables)."""

    def __init__(self, items, names: list[str]):
        self.items, self.names = items, [name for name in names if name in items]

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self.names:
            raise KeyError(name)
        return self.items[name].to_numpy(dtype=object)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)


def sorted_items(items):
    """The items sorted by code (stable) on a fresh 0..n-1 index; extraction usually gives
    them so already, and then they are used as they are instead of copied."""
    import pandas as pd

    if items["item_code"].is_monotonic_increasing and items.index.equals(pd.RangeIndex(len(items))):
        return items
    return items.sort_values("item_code", kind="stable").reset_index(drop=True)


def routed_rows(items, operations) -> np.ndarray:
    """Rows of ``items`` (sorted by code, codes unique) with at least one operation: the items
    the index holds, known before the tables are built (they give the same rows)."""
    import pandas as pd

    codes = pd.Index(items["item_code"].astype(str))
    routed = pd.unique(operations["item_code"]) if len(operations) else []
    return np.flatnonzero(codes.isin(pd.Index(routed).astype(str))).astype(np.int64)


def _index_stage(folder: Path, vectors: np.ndarray, labels: np.ndarray, params: dict):
    """(index, recall@10, items the island repair linked): built on all cores, its islands
    repaired in the saved file, its recall sampled. Runs in a thread: it touches neither the
    database nor the progress."""
    path = folder / hnsw.INDEX_FILE
    threads = os.cpu_count() or 2
    index, linked = hnsw.build_repaired(vectors, labels, params, threads=threads, path=path)
    return index, hnsw.recall_at_k(index, vectors, labels, k=10, sample=300), int(linked)


@dataclass
class Tabled:
    """What the tables stage hands back: its files, what the evaluation needs of its arrays,
    the extract report with its counts, and the stored evaluation's families when planned."""

    files: list[str]
    arrays: dict  # item_rt_start, item_rt_end
    routings: int
    report: object
    seconds: float
    holdout: tuple | None = None  # evaluation.stored_holdout's (families, held-out mask)


def _tables_stage(folder: Path, items, data, names, labels: np.ndarray, attributes) -> Tabled:
    """The tables built and saved, then (``attributes`` given) the stored evaluation's
    families. Runs in a process forked beside the features (:func:`forking.beside`; it needs
    only the extracted frames): it touches neither the database nor the progress, and its
    Python loops do not take turns with the features' own for the interpreter lock."""
    started = time.monotonic()
    arrays, strings = build_tables(
        items, data.operations, data.work_results, names, report=data.report
    )
    files = save_tables(folder, arrays, strings)
    has_routing = arrays["item_rt_end"] > arrays["item_rt_start"]
    if not np.array_equal(np.flatnonzero(has_routing), labels):
        raise RuntimeError(
            "The items with routings in the tables differ from the items given to the index "
            f"({int(has_routing.sum())} against {len(labels)}): item codes that are not text?"
        )
    kept = {k: arrays[k] for k in ("item_rt_start", "item_rt_end")}
    tabled = Tabled(files, kept, int(len(arrays["rt_no"])), data.report, time.monotonic() - started)
    if attributes:
        from registry_app.pipeline.evaluation import stored_holdout

        tabled.holdout = stored_holdout(items, attributes)
    return tabled


def _evaluated(config: dict, labels: np.ndarray) -> bool:
    """Whether the stored evaluation runs: ``eval_sample`` above 0 and more than 20 items with
    routings."""
    return bool(config.get("eval_sample", 0)) and len(labels) > 20


def _evaluation_plan(folder, encoder, tabled, names, items, config, attributes, feedback_items):
    """The stored evaluation up to the predictions (which need the index)."""
    from registry_app.pipeline.evaluation import prepare_built

    return prepare_built(
        folder,
        encoder,
        tabled.arrays,
        names,
        items,
        config,
        attributes=attributes,
        never_held=never_held_out(items, list(feedback_items)),
        holdout=tabled.holdout,
    )


def _metrics_line(metrics: dict) -> str:
    model = metrics.get("model", {})
    if not model:
        return ""
    return f"top-1 exact {model.get('top1_exact', 0):.3f}, hit@N {model.get('hit_at_n', 0):.3f}"
