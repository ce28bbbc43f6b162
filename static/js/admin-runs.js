// Training runs in the admin: each queued or running run's progress bar (and, on a run's page,
// its stage, state and log) follows GET /api/v1/training-runs/<id> until the run ends; the page
// reloads once then, so a failed run shows its error first. Plain JS, no library.
(function () {
  "use strict";
  const POLL_MS = 1500;
  const TERMINAL = new Set(["succeeded", "failed"]);

  function fieldBox(name) {
    return document.querySelector(".field-" + name + " .readonly");
  }

  function paint(bar, run) {
    const pct = Math.round((run.progress || 0) * 100);
    bar.value = pct;
    const text = bar.parentElement.querySelector(".run-progress-text");
    if (text) text.textContent = pct + "%";
    const row = bar.closest("tr");
    if (row) {
      const stage = row.querySelector(".field-stage");
      const state = row.querySelector(".field-state");
      if (stage) stage.textContent = run.stage || "";
      if (state) state.textContent = run.state;
    }
    if (document.getElementById("run-live")) {
      const stage = fieldBox("stage");
      const state = fieldBox("state");
      const log = document.querySelector(".field-log_text pre.run-log");
      if (stage) stage.textContent = run.stage || "";
      if (state) state.textContent = run.state;
      if (log && run.log && run.log.length) log.textContent = run.log.join("\n");
    }
  }

  async function follow(bar) {
    const id = bar.dataset.run;
    try {
      const res = await fetch("/api/v1/training-runs/" + id, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (!res.ok) return; // not allowed or gone: leave the page as rendered
      const run = await res.json();
      paint(bar, run);
      if (TERMINAL.has(run.state)) {
        window.location.reload();
        return;
      }
    } catch (err) {
      // the server restarts or the network blips: try again at the next tick
    }
    window.setTimeout(() => follow(bar), POLL_MS);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("progress.run-progress").forEach(function (bar) {
      const row = bar.closest("tr");
      const state = row ? row.querySelector(".field-state") : fieldBox("state");
      const current = state ? state.textContent.trim().toLowerCase() : "";
      if (!TERMINAL.has(current)) window.setTimeout(() => follow(bar), POLL_MS);
    });
  });
})();
