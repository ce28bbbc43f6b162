/* Routing editor: predict candidates for an item, take one into the table, edit it, save it.

   Data: POST /api/v1/predict, GET /api/v1/routing-rules, POST /api/v1/time-summary (live
   totals), POST /api/v1/routings (save, with the proposal it started from: the prediction's
   request id and the candidate's rank; 400 carries {"fields": {"operations.2.op_code": [..]}}),
   GET /api/v1/routings/<id>/export (links). The table itself is RoutingTable
   (routing-table.js); its checks are RoutingRules (routing-rules.js). */
(function () {
  "use strict";

  const { el, fmt, readJson, detailOf } = consoleDom;
  const $ = (id) => document.getElementById(id);
  const canSave = $("editor").dataset.canSave === "true";
  const toast = window.consoleToast;

  const state = {
    rules: null,
    modelVersion: null,
    requestId: null, // X-Request-ID of the prediction: the saved decision refers to it
    takenRank: null, // the candidate the routing in the table started from
    result: null,
    selected: 0,
    dirty: false,
    savedId: null,
    summaryTimer: null,
    summaryTicket: 0,
  };

  const table = RoutingTable.create({
    body: $("ops-body"),
    foot: $("ops-foot"),
    status: $("routing-status"),
    errorList: $("routing-errors"),
    rules: () => state.rules,
    onChange: () => {
      state.dirty = true;
      $("saved").hidden = true;
      scheduleSummary();
    },
  });

  function pct(value) {
    return Math.round(100 * Number(value || 0)) + " %";
  }

  function quantity() {
    const q = Number($("quantity").value);
    return Number.isFinite(q) && q >= 0 ? q : null;
  }

  // -- routing rules and catalogues -------------------------------------------------------
  async function loadRules() {
    try {
      const res = await consoleApi.fetch("/api/v1/routing-rules");
      if (!res.ok) throw new Error(detailOf(res, await readJson(res)));
      state.rules = await res.json();
      fillDatalist("op-codes", state.rules.allowed_op_codes);
      fillDatalist("work-centers", state.rules.allowed_work_centers);
    } catch (err) {
      state.rules = null;
      toast("Routing rules unavailable (" + err.message + "): only basic checks run here; the server still checks on save.", "warning");
    }
    table.refresh(false);
  }

  function fillDatalist(id, catalogue) {
    const list = $(id);
    list.replaceChildren();
    for (const [code, name] of Object.entries(catalogue || {}).sort()) {
      list.append(el("option", { value: code, label: name || code }));
    }
  }

  // -- the item form and prediction -------------------------------------------------------
  function addAttributeRow(key, value) {
    const row = el("div", { class: "extra-attr" },
      el("input", { class: "attr-key", placeholder: "attribute", maxlength: "100", value: key || "", "aria-label": "Attribute name" }),
      el("input", { class: "attr-value", placeholder: "value", maxlength: "500", value: value || "", "aria-label": "Attribute value" }),
      el("button", { type: "button", class: "icon-button", title: "Remove attribute", "aria-label": "Remove attribute", text: "×" }));
    row.querySelector("button").addEventListener("click", () => row.remove());
    $("extra-attrs").append(row);
    row.querySelector(".attr-key").focus();
  }

  function collectItem() {
    const item = {};
    const code = $("item-code").value.trim();
    if (code) item.item_code = code;
    const attributes = {};
    for (const input of document.querySelectorAll("[data-attr]")) {
      const raw = input.value.trim();
      if (!raw) continue;
      attributes[input.dataset.attr] = input.type === "number" ? Number(raw) : raw;
    }
    for (const row of document.querySelectorAll(".extra-attr")) {
      const key = row.querySelector(".attr-key").value.trim();
      const value = row.querySelector(".attr-value").value.trim();
      if (key && value) attributes[key] = value;
    }
    if (Object.keys(attributes).length) item.attributes = attributes;
    return item;
  }

  async function predict(event) {
    event.preventDefault();
    const item = collectItem();
    if (!item.item_code && !item.attributes) {
      toast("Enter an item code or at least one attribute.", "error");
      $("item-code").focus();
      return;
    }
    const q = quantity();
    if (q === null) {
      toast("Quantity must be a number ≥ 0.", "error");
      return;
    }
    const button = $("predict-btn");
    button.disabled = true;
    button.textContent = "Predicting…";
    setStatus("Predicting…", "");
    try {
      const res = await consoleApi.fetch("/api/v1/predict", {
        method: "POST", body: { items: [item], candidates: 4, quantity: q },
      });
      const data = await readJson(res);
      if (!res.ok) {
        setStatus(detailOf(res, data), "error");
        clearCandidates();
        toast("Prediction failed: " + detailOf(res, data), "error");
        return;
      }
      state.modelVersion = data.model_version;
      state.requestId = res.headers.get("X-Request-ID");
      showResult(data.items[0], item.item_code);
    } catch (err) {
      setStatus("The server could not be reached: " + err.message, "error");
    } finally {
      button.disabled = false;
      button.textContent = "Predict";
    }
  }

  function setStatus(text, kind) {
    const p = $("predict-status");
    p.textContent = text;
    p.className = kind === "error" ? "field-error" : "muted";
  }

  function clearCandidates() {
    state.result = null;
    $("candidate-tabs").replaceChildren();
    $("candidate-detail").hidden = true;
    renderNeighbours([]);
  }

  function showResult(result, code) {
    state.result = result;
    state.selected = 0;
    $("model-version").textContent = "model " + state.modelVersion;
    if (code && !$("save-code").value) $("save-code").value = code;
    const n = result.candidates.length;
    if (result.status === "existing") {
      setStatus("Item " + result.item_code + " already has " + (n === 1 ? "a routing" : n + " routings") + ": shown below.", "");
    } else if (result.status === "no_match" || !n) {
      setStatus(result.detail || (result.error && result.error.detail) || "No similar item with a routing was found.", "error");
    } else {
      setStatus(n + " candidate routing" + (n === 1 ? "" : "s") + " from similar items. Choose one to edit.", "");
    }
    renderTabs();
    renderNeighbours(result.neighbours || []);
  }

  function renderTabs() {
    const tabs = $("candidate-tabs");
    tabs.replaceChildren();
    const candidates = state.result ? state.result.candidates : [];
    candidates.forEach((c, i) => {
      const lead = c.time_summary ? fmt(c.time_summary.lead_hours, 1) + " h" : "";
      const tab = el("button", {
        type: "button", role: "tab", class: "candidate-tab", id: "cand-tab-" + i,
        "aria-selected": i === state.selected ? "true" : "false", "data-index": String(i),
      },
      el("span", { class: "tab-title", text: "#" + c.rank + " · " + pct(c.score) }),
      el("span", { class: "tab-sub", text: c.operations.length + " ops · " + c.support + " ref" + (c.support === 1 ? "" : "s") + (lead ? " · " + lead : "") }));
      tab.addEventListener("click", () => { state.selected = i; renderTabs(); });
      tabs.append(tab);
    });
    renderCandidateDetail();
  }

  function renderCandidateDetail() {
    const panel = $("candidate-detail");
    const c = state.result && state.result.candidates[state.selected];
    panel.hidden = !c;
    panel.replaceChildren();
    if (!c) return;
    const ts = c.time_summary || {};
    const facts = el("dl", { class: "facts" },
      el("dt", { text: "Score" }), el("dd", { text: pct(c.score) }),
      el("dt", { text: "Support" }), el("dd", { text: c.support + " item" + (c.support === 1 ? "" : "s") }),
      el("dt", { text: "Best similarity" }), el("dd", { text: fmt(c.max_similarity, 3) }),
      el("dt", { text: "Lead time" }), el("dd", { text: fmt(ts.lead_min, 1) + " min (" + fmt(ts.lead_hours, 2) + " h) at qty " + fmt(ts.quantity, 2) }),
      ts.p80_lead_min !== undefined ? el("dt", { text: "P80 / P90" }) : null,
      ts.p80_lead_min !== undefined ? el("dd", { text: fmt(ts.p80_lead_min, 1) + " / " + fmt(ts.p90_lead_min, 1) + " min" }) : null);
    const sequence = el("ol", { class: "op-sequence", "aria-label": "Operation sequence" },
      ...c.operations.map((op) => el("li", { title: op.seq + " " + (op.op_name || "") + " @ " + (op.work_center_name || op.work_center) },
        el("span", { class: "chip" }, el("strong", { text: op.op_code }), el("span", { class: "muted", text: " " + op.work_center })))));
    const refs = c.reference_items || [];
    const shown = refs.slice(0, 8);
    const refTable = el("table", { class: "refs" },
      el("thead", {}, el("tr", {}, el("th", { text: "Reference item" }), el("th", { text: "Routing" }), el("th", { class: "num", text: "Similarity" }))),
      el("tbody", {}, ...shown.map((r) => el("tr", {},
        el("td", { class: "mono", text: r.item_code }), el("td", { class: "mono", text: r.routing_no || "" }),
        el("td", { class: "num", text: fmt(r.similarity, 3) })))));
    const more = refs.length > shown.length ? el("p", { class: "muted", text: "and " + (refs.length - shown.length) + " more" }) : null;
    const use = el("button", { type: "button", class: "button primary", id: "use-candidate", text: "Use this routing" });
    use.addEventListener("click", () => useCandidate(state.selected));
    panel.append(el("div", { class: "candidate-grid" },
      el("div", {}, facts, use), el("div", {}, sequence, refTable, more)));
  }

  function renderNeighbours(neighbours) {
    const list = $("neighbours");
    list.replaceChildren();
    $("neighbours-empty").hidden = neighbours.length > 0;
    for (const n of neighbours.slice(0, 10)) {
      const matched = (n.matched_attributes || []).join(", ");
      list.append(el("li", {},
        el("span", { class: "mono", text: n.item_code }),
        el("span", { class: "sim", text: fmt(n.similarity, 3) }),
        matched ? el("div", { class: "matched", title: matched, text: matched }) : null));
    }
  }

  // -- choosing a candidate ---------------------------------------------------------------
  function useCandidate(index) {
    const c = state.result.candidates[index];
    if (state.dirty && table.length && !window.confirm("Replace the routing you are editing with candidate #" + c.rank + "?")) return;
    table.load(c.operations);
    state.takenRank = { requestId: state.requestId, rank: c.rank };
    const from = state.result.status === "existing" ? "routing " + (c.routing_no || "#" + c.rank) + " of " + state.result.item_code : "candidate #" + c.rank + " (" + pct(c.score) + ")";
    $("routing-source").textContent = "From " + from + ", model " + state.modelVersion + ".";
    state.dirty = false;
    $("saved").hidden = true;
    scheduleSummary();
    $("routing-card").scrollIntoView({ behavior: "smooth", block: "start" });
  }

  // -- live totals ------------------------------------------------------------------------
  function scheduleSummary() {
    clearTimeout(state.summaryTimer);
    state.summaryTimer = setTimeout(updateSummary, 250);
  }

  async function updateSummary() {
    const ticket = ++state.summaryTicket;
    const q = quantity();
    const line = $("lead-line");
    if (!table.length) { line.textContent = ""; return; }
    if (q === null || !table.numbersUsable()) {
      showTotals(null);
      line.textContent = "Totals paused: fix the highlighted times" + (q === null ? " and the quantity" : "") + ".";
      return;
    }
    try {
      const res = await consoleApi.fetch("/api/v1/time-summary", {
        method: "POST", body: { operations: table.operations(false), quantity: q },
      });
      const data = await readJson(res);
      if (ticket !== state.summaryTicket) return; // a newer edit is on its way
      if (!res.ok) {
        showTotals(null);
        line.textContent = "Totals unavailable: " + detailOf(res, data);
        return;
      }
      showTotals(data);
      line.textContent = "Lead time " + fmt(data.lead_min, 1) + " min = " + fmt(data.lead_hours, 2) + " h for a quantity of " + fmt(data.quantity, 2) + ".";
    } catch (err) {
      if (ticket === state.summaryTicket) line.textContent = "Totals unavailable: " + err.message;
    }
  }

  function showTotals(data) {
    for (const part of ["setup", "run", "queue", "wait", "move", "lead"]) {
      $("t-" + part).textContent = data ? fmt(data[part + "_min"], 1) : "—";
    }
    $("total-label").textContent = data ? "Totals (min) at quantity " + fmt(data.quantity, 2) : "Totals (min)";
    table.showLeads(data);
  }

  // -- save and export --------------------------------------------------------------------
  async function save(event) {
    event.preventDefault();
    const code = $("save-code").value.trim();
    $("save-code-error").textContent = code ? "" : "Enter the item code this routing is for.";
    if (!code) { $("save-code").focus(); return; }
    table.setServerErrors({});
    if (!table.length) { toast("The routing has no operations.", "error"); return; }
    const n = table.clientProblems;
    if (n) {
      toast("Fix the " + n + " problem" + (n === 1 ? "" : "s") + " marked in the table before saving.", "error");
      return;
    }
    // saving in the editor is the engineer's decision: the routing is accepted (training truth)
    const payload = { item_code: code, operations: table.operations(true), comment: $("save-comment").value.trim(), status: "accepted" };
    if (state.modelVersion) payload.source_model_version = state.modelVersion;
    if (state.takenRank && state.takenRank.requestId) {
      payload.proposal = { request_id: state.takenRank.requestId, item_index: 0, candidate_rank: state.takenRank.rank };
    }
    const button = $("save-btn");
    button.disabled = true;
    try {
      const res = await consoleApi.fetch("/api/v1/routings", { method: "POST", body: payload });
      const data = await readJson(res);
      if (res.ok) {
        saved(data, code);
        return;
      }
      if (res.status === 400) {
        const others = table.setServerErrors(data.fields);
        $("save-code-error").textContent = (others.item_code || []).join(" ");
      }
      toast("Not saved: " + detailOf(res, data), "error");
    } catch (err) {
      toast("Not saved: the server could not be reached (" + err.message + ").", "error");
    } finally {
      button.disabled = !canSave;
    }
  }

  function saved(data, code) {
    state.dirty = false;
    state.savedId = data.id;
    exportLinks();
    $("saved-text").textContent = "Saved as routing #" + data.id + " for " + code + ".";
    $("saved").hidden = false;
    toast("Saved routing #" + data.id + " for " + code + ".", "success");
  }

  /** Export links: the configured output profile unless another is chosen. */
  function exportLinks() {
    if (state.savedId === null) return;
    const profile = $("export-profile").value;
    const base = "/api/v1/routings/" + encodeURIComponent(state.savedId) + "/export?" + (profile ? "profile=" + encodeURIComponent(profile) + "&" : "");
    $("export-csv").href = base + "format=csv";
    $("export-json").href = base + "format=json";
  }

  async function loadExportProfiles() {
    try {
      const res = await consoleApi.fetch("/api/v1/mapping-profiles?direction=output");
      if (!res.ok) return;
      const data = await res.json();
      const rows = Array.isArray(data) ? data : data.profiles || [];
      $("export-profile").append(...rows.map((p) => el("option", { value: p.name, text: p.name })));
    } catch (e) { /* the configured profile still works */ }
  }

  // -- wiring -----------------------------------------------------------------------------
  $("predict-form").addEventListener("submit", predict);
  $("add-attr").addEventListener("click", () => addAttributeRow());
  $("add-op").addEventListener("click", () => table.add());
  $("renumber").addEventListener("click", () => table.renumber());
  $("quantity").addEventListener("input", scheduleSummary);
  $("save-form").addEventListener("submit", save);
  $("export-profile").addEventListener("change", exportLinks);
  window.addEventListener("beforeunload", (e) => {
    if (state.dirty && table.length) { e.preventDefault(); e.returnValue = ""; }
  });
  loadRules();
  loadExportProfiles();
})();
