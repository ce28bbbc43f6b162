"""The registry in the admin: confirmation pages with figures, actions, read-only history."""

from html.parser import HTMLParser

from registry_app.models import AuditEntry, ModelVersion, RunState, TrainingRun


def test_the_approve_page_shows_the_figures_beside_the_active_version(admin_client, two_versions):
    first, second = two_versions
    page = admin_client.get(f"/admin/registry_app/modelversion/{second.pk}/confirm/approve/")
    html = page.content.decode()
    assert page.status_code == 200
    assert f"Approve {second.label}?" in html and f"active ({first.label})" in html
    assert "baseline: nearest item" in html and "Top-1 exact sequence" in html
    assert str(second.metrics["model"]["top1_exact"]) in html
    second.refresh_from_db()
    assert second.state == "pending"  # looking changes nothing


def test_confirming_approves_and_activates_with_an_audit_comment(admin_client, two_versions):
    _, second = two_versions
    base = f"/admin/registry_app/modelversion/{second.pk}/confirm"
    admin_client.post(f"{base}/approve/", {"confirm": "yes", "comment": "looks good"})
    admin_client.post(f"{base}/activate/", {"confirm": "yes", "comment": "go"})
    second.refresh_from_db()
    assert second.state == "active"
    entry = AuditEntry.objects.filter(version=second, action="approve").get()
    assert entry.comment == "looks good" and entry.username == "boss"


def test_a_refused_transition_is_shown_not_raised(admin_client, two_versions):
    _, second = two_versions
    page = admin_client.post(
        f"/admin/registry_app/modelversion/{second.pk}/confirm/activate/",
        {"confirm": "yes"},
        follow=True,
    )
    assert page.status_code == 200
    assert "only a version that is approved or retired" in page.content.decode()
    second.refresh_from_db()
    assert second.state == "pending"


def test_rollback_page_names_the_target_and_rolls_back(admin_client, two_versions):
    first, second = two_versions
    second.approve()
    second.activate()
    page = admin_client.get("/admin/registry_app/modelversion/rollback/")
    assert f"Yes, rollback to {first.label}" in page.content.decode()
    admin_client.post(
        "/admin/registry_app/modelversion/rollback/", {"confirm": "yes", "target": first.label}
    )
    assert ModelVersion.objects.active() == first


def test_train_now_queues_a_run_and_history_is_read_only(admin_client, db):
    page = admin_client.post("/admin/registry_app/modelversion/train/", follow=True)
    assert page.status_code == 200
    run = TrainingRun.objects.get()
    assert run.state == RunState.QUEUED and run.trigger == "admin"
    assert admin_client.get("/admin/registry_app/trainingrun/").status_code == 200
    assert admin_client.get(f"/admin/registry_app/trainingrun/{run.pk}/change/").status_code == 200
    assert admin_client.get("/admin/registry_app/auditentry/add/").status_code == 403
    assert admin_client.get("/admin/registry_app/modelversion/add/").status_code == 403


class _Cells(HTMLParser):
    """The cells of the version page's evaluation table, row by row (header row first)."""

    def __init__(self):
        super().__init__()
        self.rows: list[list[str]] = []
        self.inside = self.cell = False

    def handle_starttag(self, tag, attrs):
        if tag == "table" and ("class", "evaluation") in attrs:
            self.inside = True
        elif self.inside and tag == "tr":
            self.rows.append([])
        elif self.inside and tag in ("td", "th"):
            self.cell = True
            self.rows[-1].append("")

    def handle_endtag(self, tag):
        if tag == "table":
            self.inside = False
        elif tag in ("td", "th"):
            self.cell = False

    def handle_data(self, data):
        if self.inside and self.cell:
            self.rows[-1][-1] += data.strip()


def _table_of(html: str) -> dict[str, list[str]]:
    parser = _Cells()
    parser.feed(html)
    return {row[0]: row[1:] for row in parser.rows}


def test_the_version_page_shows_every_stored_baseline_beside_the_model(admin_client, two_versions):
    first, second = two_versions
    page = admin_client.get(f"/admin/registry_app/modelversion/{second.pk}/change/")
    assert page.status_code == 200
    table = _table_of(page.content.decode())
    header = table["Figure (held-out items)"]
    names = ["most_frequent", "same_attributes", "nearest", "knn_medoid"]
    assert header == [
        second.label,
        "baseline: most frequent routing",
        "baseline: same attribute values' most frequent",
        "baseline: nearest item (1-NN)",
        "baseline: k-NN medoid",
        f"active ({first.label})",
    ]
    baselines = second.metrics["baselines"]
    assert sorted(baselines) == sorted(names)
    figures = {
        "op_edit_similarity": "Op-code edit similarity",
        "top1_exact": "Top-1 exact sequence",
        "coverage": "Coverage",
    }
    for key, title in figures.items():
        expected = [second.metrics["model"][key], *(baselines[n][key] for n in names)]
        assert table[title][:5] == [str(v) for v in expected]
        assert table[title][5] == str(first.metrics["model"][key])
    assert table["Index recall@10"][1:5] == ["—"] * 4


def test_an_evaluation_without_baselines_shows_no_baseline_column(admin_client, two_versions):
    _, second = two_versions
    ModelVersion.objects.filter(pk=second.pk).update(
        metrics={"model": second.metrics["model"], "index_recall_at_10": 0.9}
    )
    page = admin_client.get(f"/admin/registry_app/modelversion/{second.pk}/change/")
    header = _table_of(page.content.decode())["Figure (held-out items)"]
    assert page.status_code == 200 and len(header) == 2
    assert not any(h.startswith("baseline:") for h in header)
