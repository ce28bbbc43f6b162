/* Routing editor: predict candidates for an item, take one into the table, edit it, save it.

   Data: POST /api/v1/predict, GET /api/v1/routing-rules, POST /api/v1/time-summary (live
   totals), POST /api/v1/routings (save; 400 carries {"fields": {"operations.2.op_code": [..]}}),
   GET /api/v1/routings/<id>/export (links). The table is state.ops; structural changes (load,
   add, remove, reorder) rebuild the rows, typing only updates the state and the badges so the
   focus stays where the engineer is typing. */
(function () {
  "use strict";

  const FIELDS = ["seq", "op_code", "op_name", "work_center", "work_center_name", "in_house",
    "setup_min", "run_min", "run_qty", "queue_min", "wait_min", "move_min"];
  const NUMBER_FIELDS = ["setup_min", "run_min", "run_qty", "queue_min", "wait_min", "move_min"];
  const MAX_TOASTS_PER_CHANGE = 3;

  const $ = (id) => document.getElementById(id);
  const root = $("editor");
  const body = $("ops-body");
  const canSave = root.dataset.canSave === "true";
  const toast = window.consoleToast;

  const state = {
    rules: null,
    modelVersion: null,
    result: null,
    selected: 0,
    ops: [],
    serverErrors: [],
    announced: new Set(),
    check: { rows: [], routing: [], count: 0 },
    dirty: false,
    nextKey: 1,
    summaryTimer: null,
    summaryTicket: 0,
    serverRouting: [],
    savedId: null,
  };

  // -- small helpers ----------------------------------------------------------------------
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k in node && typeof v !== "string") node[k] = v;
      else node.setAttribute(k, v === true ? "" : v);
    }
    node.append(...children.filter((c) => c !== null && c !== undefined));
    return node;
  }

  function fmt(value, digits) {
    if (value === null || value === undefined || value === "") return "";
    const n = Number(value);
    if (!Number.isFinite(n)) return String(value);
    return n.toLocaleString(undefined, { maximumFractionDigits: digits === undefined ? 1 : digits });
  }

  function pct(value) {
    return Math.round(100 * Number(value || 0)) + " %";
  }

  async function readJson(res) {
    try { return await res.json(); } catch (e) { return {}; }
  }

  function errorText(res, data) {
    if (data && data.detail) return typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail);
    return "HTTP " + res.status;
  }

  function quantity() {
    const q = Number($("quantity").value);
    return Number.isFinite(q) && q >= 0 ? q : null;
  }

  // -- routing rules and catalogues -------------------------------------------------------
  async function loadRules() {
    try {
      const res = await consoleApi.fetch("/api/v1/routing-rules");
      if (!res.ok) throw new Error(errorText(res, await readJson(res)));
      state.rules = await res.json();
      fillDatalist("op-codes", state.rules.allowed_op_codes);
      fillDatalist("work-centers", state.rules.allowed_work_centers);
    } catch (err) {
      state.rules = null;
      toast("Routing rules unavailable (" + err.message + "): only basic checks run here; the server still checks on save.", "warning");
    }
    refreshChecks(false);
  }

  function fillDatalist(id, catalogue) {
    const list = $(id);
    list.replaceChildren();
    for (const [code, name] of Object.entries(catalogue || {}).sort()) {
      list.append(el("option", { value: code, label: name || code }));
    }
  }

  function catalogueName(kind, code) {
    const cat = state.rules && state.rules[kind];
    return cat && Object.prototype.hasOwnProperty.call(cat, code) ? cat[code] : null;
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
        setStatus(errorText(res, data), "error");
        clearCandidates();
        toast("Prediction failed: " + errorText(res, data), "error");
        return;
      }
      state.modelVersion = data.model_version;
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
      setStatus(result.detail || "No similar item with a routing was found.", "error");
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

  // -- the editable table -----------------------------------------------------------------
  function editable(op) {
    const row = { key: state.nextKey++ };
    for (const f of FIELDS) row[f] = op[f] === undefined || op[f] === null ? "" : op[f];
    // minutes to two decimals: what an engineer reads and types (the statistics carry more)
    for (const f of NUMBER_FIELDS) if (typeof row[f] === "number") row[f] = Math.round(row[f] * 100) / 100;
    if (row.in_house === "") row.in_house = true;
    if (row.run_qty === "") row.run_qty = 1;
    for (const extra of ["p80", "p90", "time_source", "samples"]) if (op[extra] !== undefined) row[extra] = op[extra];
    return row;
  }

  function useCandidate(index) {
    const c = state.result.candidates[index];
    if (state.dirty && state.ops.length && !window.confirm("Replace the routing you are editing with candidate #" + c.rank + "?")) return;
    state.ops = c.operations.map(editable);
    state.serverErrors = [];
    state.announced = new Set();
    const from = state.result.status === "existing" ? "routing " + (c.routing_no || "#" + c.rank) + " of " + state.result.item_code : "candidate #" + c.rank + " (" + pct(c.score) + ")";
    $("routing-source").textContent = "From " + from + ", model " + state.modelVersion + ".";
    state.dirty = false;
    $("saved").hidden = true;
    renderRows();
    refreshChecks(true);
    $("routing-card").scrollIntoView({ behavior: "smooth", block: "start" });
  }

  function numberInput(op, field, extraClass) {
    return el("input", {
      type: "number", step: "any", min: field === "run_qty" ? "0" : "0", class: "num " + (extraClass || ""),
      "data-field": field, value: op[field] === "" ? "" : String(op[field]), "aria-label": field.replace("_min", "").replace("_", " "),
      title: percentileHint(op, field),
    });
  }

  function percentileHint(op, field) {
    if (field !== "setup_min" && field !== "run_min") return null;
    const parts = [];
    for (const p of ["p80", "p90"]) if (op[p] && op[p][field] !== undefined) parts.push(p.toUpperCase() + " " + fmt(op[p][field], 2));
    return parts.length ? parts.join(" · ") + " min" : null;
  }

  function sourceNote(op) {
    if (!op.time_source) return "";
    return op.time_source + (op.samples ? " · " + op.samples + " sample" + (op.samples === 1 ? "" : "s") : "");
  }

  function buildRow(op, index) {
    const tr = el("tr", { "data-index": String(index), "data-key": String(op.key) });
    tr.append(
      el("td", { class: "handle-col" }, el("button", {
        type: "button", class: "drag-handle", title: "Drag to reorder (or focus and use the arrow keys)",
        "aria-label": "Move operation " + op.seq + " (arrow keys)", text: "☰" })),
      el("td", {}, el("input", { type: "number", step: "10", min: "0", class: "num seq", "data-field": "seq", value: String(op.seq), "aria-label": "Seq" })),
      el("td", {}, el("input", { class: "code", list: "op-codes", "data-field": "op_code", value: op.op_code, maxlength: "64", "aria-label": "Operation code" })),
      el("td", {}, el("input", { class: "name", "data-field": "op_name", value: op.op_name, maxlength: "200", "aria-label": "Operation name" }),
        el("div", { class: "cell-note", text: sourceNote(op) })),
      el("td", {}, el("input", { class: "code", list: "work-centers", "data-field": "work_center", value: op.work_center, maxlength: "64", "aria-label": "Work center" }),
        el("div", { class: "cell-note wc-name", text: op.work_center_name || "" })),
      el("td", { class: "center" }, el("input", { type: "checkbox", "data-field": "in_house", checked: op.in_house !== false, "aria-label": "In-house" })),
      el("td", {}, numberInput(op, "setup_min")),
      el("td", {}, numberInput(op, "run_min")),
      el("td", {}, numberInput(op, "run_qty", "qty")),
      el("td", {}, numberInput(op, "queue_min")),
      el("td", {}, numberInput(op, "wait_min")),
      el("td", {}, numberInput(op, "move_min")),
      el("td", { class: "num lead" }),
      el("td", { class: "check" }, el("span", { class: "badge row-badge" })),
      el("td", {}, el("button", { type: "button", class: "icon-button remove-op", title: "Remove operation", "aria-label": "Remove operation " + op.seq, text: "×" })),
    );
    return tr;
  }

  function renderRows() {
    body.replaceChildren(...state.ops.map(buildRow));
    $("ops-foot").hidden = !state.ops.length;
    if (!state.ops.length) {
      const td = el("td", { colspan: "15", class: "empty muted", text: "No operations yet: choose a candidate above or add operations." });
      body.append(el("tr", {}, td));
    }
  }

  function renumber() {
    state.ops.forEach((op, i) => { op.seq = (i + 1) * 10; });
  }

  function structuralChange() {
    state.serverErrors = [];
    state.dirty = true;
    $("saved").hidden = true;
    renderRows();
    refreshChecks(true);
  }

  function moveRow(from, to) {
    if (from === to || to < 0 || to >= state.ops.length) return;
    const [op] = state.ops.splice(from, 1);
    state.ops.splice(to, 0, op);
    renumber();
    structuralChange();
  }

  function addOperation() {
    const last = state.ops.reduce((m, op) => Math.max(m, Number(op.seq) || 0), 0);
    state.ops.push(editable({ seq: last + 10, op_code: "", op_name: "", work_center: "", in_house: true,
      setup_min: 0, run_min: 0, run_qty: 1, queue_min: 0, wait_min: 0, move_min: 0 }));
    structuralChange();
    const rows = body.querySelectorAll("tr");
    rows[rows.length - 1].querySelector('[data-field="op_code"]').focus();
  }

  // -- edits ------------------------------------------------------------------------------
  function rowIndex(target) {
    const tr = target.closest("tr[data-index]");
    return tr ? Number(tr.dataset.index) : -1;
  }

  function onInput(event) {
    const field = event.target.dataset.field;
    const i = rowIndex(event.target);
    if (!field || i < 0) return;
    const op = state.ops[i];
    const previous = op[field];
    op[field] = event.target.type === "checkbox" ? event.target.checked : event.target.value;
    if (field === "op_code") fillName(op, event.target, "allowed_op_codes", "op_name", previous);
    if (field === "work_center") fillName(op, event.target, "allowed_work_centers", "work_center_name", previous);
    if (state.serverErrors[i]) delete state.serverErrors[i][field];
    state.dirty = true;
    $("saved").hidden = true;
    refreshChecks(false);
  }

  function fillName(op, input, kind, nameField, previousCode) {
    const name = catalogueName(kind, String(op[input.dataset.field]).trim());
    const previousName = catalogueName(kind, String(previousCode).trim());
    if (name === null || (op[nameField] && op[nameField] !== previousName)) return;
    op[nameField] = name;
    const tr = input.closest("tr");
    if (nameField === "op_name") tr.querySelector('[data-field="op_name"]').value = name;
    else tr.querySelector(".wc-name").textContent = name;
  }

  function onClick(event) {
    const remove = event.target.closest(".remove-op");
    if (!remove) return;
    const i = rowIndex(remove);
    state.ops.splice(i, 1);
    structuralChange();
  }

  function onHandleKey(event) {
    const handle = event.target.closest(".drag-handle");
    if (!handle || (event.key !== "ArrowUp" && event.key !== "ArrowDown")) return;
    event.preventDefault();
    const from = rowIndex(handle);
    const to = from + (event.key === "ArrowUp" ? -1 : 1);
    moveRow(from, to);
    const moved = body.querySelector('tr[data-index="' + Math.max(0, Math.min(to, state.ops.length - 1)) + '"] .drag-handle');
    if (moved) moved.focus();
  }

  // -- drag and drop (native HTML5; the row becomes draggable only from its handle) ---------
  let dragFrom = null;

  function clearDropMarks() {
    body.querySelectorAll(".drop-before, .drop-after, .dragging").forEach((r) => r.classList.remove("drop-before", "drop-after", "dragging"));
  }

  function dropPosition(event) {
    const tr = event.target.closest("tr[data-index]");
    if (!tr) return null;
    const box = tr.getBoundingClientRect();
    const after = event.clientY > box.top + box.height / 2;
    return { tr, after, index: Number(tr.dataset.index) + (after ? 1 : 0) };
  }

  function wireDragAndDrop() {
    body.addEventListener("mousedown", (e) => {
      const handle = e.target.closest(".drag-handle");
      if (handle) handle.closest("tr").draggable = true;
    });
    body.addEventListener("mouseup", (e) => {
      const tr = e.target.closest("tr");
      if (tr) tr.draggable = false;
    });
    body.addEventListener("dragstart", (e) => {
      const tr = e.target.closest("tr[data-index]");
      if (!tr || !tr.draggable) return;
      dragFrom = Number(tr.dataset.index);
      e.dataTransfer.effectAllowed = "move";
      e.dataTransfer.setData("text/plain", String(dragFrom));
      tr.classList.add("dragging");
    });
    body.addEventListener("dragover", (e) => {
      if (dragFrom === null) return;
      const pos = dropPosition(e);
      if (!pos) return;
      e.preventDefault();
      e.dataTransfer.dropEffect = "move";
      body.querySelectorAll(".drop-before, .drop-after").forEach((r) => r.classList.remove("drop-before", "drop-after"));
      pos.tr.classList.add(pos.after ? "drop-after" : "drop-before");
    });
    body.addEventListener("drop", (e) => {
      if (dragFrom === null) return;
      e.preventDefault();
      const pos = dropPosition(e);
      const from = dragFrom;
      dragFrom = null;
      clearDropMarks();
      if (!pos) return;
      moveRow(from, pos.index > from ? pos.index - 1 : pos.index);
    });
    body.addEventListener("dragend", (e) => {
      dragFrom = null;
      clearDropMarks();
      const tr = e.target.closest("tr");
      if (tr) tr.draggable = false;
    });
  }

  // -- validation: badges, routing errors, toasts -----------------------------------------
  function rowErrors(i) {
    const merged = {};
    for (const source of [state.check.rows[i] || {}, state.serverErrors[i] || {}]) {
      for (const [field, msgs] of Object.entries(source)) merged[field] = (merged[field] || []).concat(msgs);
    }
    return merged;
  }

  function refreshChecks(announce) {
    state.check = RoutingRules.check(state.ops, state.rules);
    const current = new Map();
    body.querySelectorAll("tr[data-index]").forEach((tr) => {
      const i = Number(tr.dataset.index);
      const errors = rowErrors(i);
      tr.querySelectorAll("[data-field]").forEach((input) => {
        const msgs = errors[input.dataset.field];
        input.classList.toggle("invalid", Boolean(msgs));
        if (msgs) input.setAttribute("aria-invalid", "true");
        else input.removeAttribute("aria-invalid");
        input.title = msgs ? msgs.join("; ") : (percentileHint(state.ops[i], input.dataset.field) || "");
      });
      const all = [].concat(...Object.values(errors));
      if (errors.row) tr.querySelector("[data-field='seq']").classList.add("invalid");
      const badge = tr.querySelector(".row-badge");
      badge.className = "badge row-badge " + (all.length ? "error" : "ok");
      badge.textContent = all.length ? all[0] + (all.length > 1 ? " (+" + (all.length - 1) + ")" : "") : "OK";
      badge.title = all.join("\n");
      tr.classList.toggle("has-errors", all.length > 0);
      for (const msg of all) current.set(state.ops[i].key + "|" + msg, "Seq " + state.ops[i].seq + ": " + msg);
    });
    // an empty table is a starting point, not a mistake: the routing rules speak once rows exist
    const routingMsgs = state.ops.length ? state.check.routing.concat(state.serverRouting || []) : [];
    const onRows = new Set([].concat(...state.check.rows.map((r) => [].concat(...Object.values(r)))));
    for (const msg of state.check.routing) if (!onRows.has(msg)) current.set("routing|" + msg, "Routing: " + msg);
    $("routing-errors").replaceChildren(...routingMsgs.map((m) => el("li", { text: m })));
    const problems = state.ops.length ? state.check.count + countServerErrors() : 0;
    const status = $("routing-status");
    status.hidden = !state.ops.length;
    status.className = "badge " + (problems ? "error" : "ok");
    status.textContent = problems ? problems + " problem" + (problems === 1 ? "" : "s") : "valid";
    if (announce && state.ops.length) announceChanges(current);
    scheduleSummary();
  }

  function countServerErrors() {
    let n = (state.serverRouting || []).length;
    for (const row of state.serverErrors) if (row) for (const msgs of Object.values(row)) n += msgs.length;
    return n;
  }

  function announceChanges(current) {
    const fresh = [...current.entries()].filter(([key]) => !state.announced.has(key)).map(([, text]) => text);
    const hadProblems = state.announced.size > 0;
    state.announced = new Set(current.keys());
    fresh.slice(0, MAX_TOASTS_PER_CHANGE).forEach((text) => toast(text, "error"));
    if (fresh.length > MAX_TOASTS_PER_CHANGE) toast("… and " + (fresh.length - MAX_TOASTS_PER_CHANGE) + " more problems", "error");
    if (hadProblems && !current.size && state.ops.length) toast("The routing passes the rules.", "success");
  }

  // -- live totals ------------------------------------------------------------------------
  function payloadOp(op, forSave) {
    const out = {};
    for (const f of FIELDS) {
      const v = op[f];
      if (f === "in_house") out[f] = v !== false;
      else if (f === "seq") { if (String(v).trim() !== "" && Number.isInteger(Number(v))) out[f] = Number(v); }
      else if (NUMBER_FIELDS.includes(f)) out[f] = String(v).trim() === "" ? (f === "run_qty" ? 1 : 0) : Number(v);
      else if (forSave || String(v).trim() !== "") out[f] = String(v).trim();
    }
    return out;
  }

  function numbersUsable() {
    return state.check.rows.every((r) => !NUMBER_FIELDS.some((f) => r[f] && r[f].some((m) => !/above \d/.test(m))));
  }

  function scheduleSummary() {
    clearTimeout(state.summaryTimer);
    state.summaryTimer = setTimeout(updateSummary, 250);
  }

  async function updateSummary() {
    const ticket = ++state.summaryTicket;
    const q = quantity();
    const line = $("lead-line");
    if (!state.ops.length) { line.textContent = ""; return; }
    if (q === null || !numbersUsable()) {
      showTotals(null);
      line.textContent = "Totals paused: fix the highlighted times" + (q === null ? " and the quantity" : "") + ".";
      return;
    }
    try {
      const res = await consoleApi.fetch("/api/v1/time-summary", {
        method: "POST", body: { operations: state.ops.map((op) => payloadOp(op, false)), quantity: q },
      });
      const data = await readJson(res);
      if (ticket !== state.summaryTicket) return; // a newer edit is on its way
      if (!res.ok) {
        showTotals(null);
        line.textContent = "Totals unavailable: " + errorText(res, data);
        return;
      }
      showTotals(data);
      line.textContent = "Lead time " + fmt(data.lead_min, 1) + " min = " + fmt(data.lead_hours, 2) + " h for a quantity of " + fmt(data.quantity, 2) + ".";
    } catch (err) {
      if (ticket === state.summaryTicket) line.textContent = "Totals unavailable: " + err.message;
    }
  }

  function showTotals(data) {
    const set = (id, v) => { $(id).textContent = data ? fmt(v, 1) : "—"; };
    set("t-setup", data && data.setup_min);
    set("t-run", data && data.run_min);
    set("t-queue", data && data.queue_min);
    set("t-wait", data && data.wait_min);
    set("t-move", data && data.move_min);
    set("t-lead", data && data.lead_min);
    $("total-label").textContent = data ? "Totals (min) at quantity " + fmt(data.quantity, 2) : "Totals (min)";
    const cells = body.querySelectorAll("tr[data-index] .lead");
    cells.forEach((cell, i) => {
      const op = data && data.operations && data.operations[i];
      cell.textContent = op ? fmt(op.lead_min, 1) : "—";
    });
  }

  // -- save and export --------------------------------------------------------------------
  function applyServerErrors(fields) {
    state.serverErrors = [];
    state.serverRouting = [];
    $("save-code-error").textContent = "";
    for (const [key, raw] of Object.entries(fields || {})) {
      const msgs = [].concat(raw).map(String);
      const m = /^operations\.(\d+)(?:\.(\w+))?$/.exec(key);
      if (m && state.ops[Number(m[1])]) {
        const i = Number(m[1]);
        const field = m[2] || "row";
        state.serverErrors[i] = state.serverErrors[i] || {};
        state.serverErrors[i][field] = msgs;
      } else if (key === "item_code") {
        $("save-code-error").textContent = msgs.join(" ");
      } else {
        state.serverRouting.push((key === "operations" || key === "non_field_errors" ? "" : key + ": ") + msgs.join(" "));
      }
    }
    refreshChecks(true);
  }

  async function save(event) {
    event.preventDefault();
    const code = $("save-code").value.trim();
    $("save-code-error").textContent = code ? "" : "Enter the item code this routing is for.";
    if (!code) { $("save-code").focus(); return; }
    state.serverErrors = [];
    state.serverRouting = [];
    refreshChecks(false);
    if (!state.ops.length) { toast("The routing has no operations.", "error"); return; }
    if (state.check.count) {
      toast("Fix the " + state.check.count + " problem" + (state.check.count === 1 ? "" : "s") + " marked in the table before saving.", "error");
      return;
    }
    const payload = {
      item_code: code,
      operations: state.ops.map((op) => payloadOp(op, true)),
      comment: $("save-comment").value.trim(),
    };
    if (state.modelVersion) payload.source_model_version = state.modelVersion;
    const button = $("save-btn");
    button.disabled = true;
    try {
      const res = await consoleApi.fetch("/api/v1/routings", { method: "POST", body: payload });
      const data = await readJson(res);
      if (res.status === 201 || res.ok) {
        saved(data, code);
      } else if (res.status === 400) {
        applyServerErrors(data.fields);
        toast("Not saved: " + errorText(res, data), "error");
      } else {
        toast("Not saved: " + errorText(res, data), "error");
      }
    } catch (err) {
      toast("Not saved: the server could not be reached (" + err.message + ").", "error");
    } finally {
      button.disabled = !canSave;
    }
  }

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

  function saved(data, code) {
    state.dirty = false;
    state.savedId = data.id;
    exportLinks();
    $("saved-text").textContent = "Saved as routing #" + data.id + " for " + code + ".";
    $("saved").hidden = false;
    toast("Saved routing #" + data.id + " for " + code + ".", "success");
  }

  // -- wiring -----------------------------------------------------------------------------
  $("predict-form").addEventListener("submit", predict);
  $("add-attr").addEventListener("click", () => addAttributeRow());
  $("add-op").addEventListener("click", addOperation);
  $("renumber").addEventListener("click", () => { renumber(); structuralChange(); });
  $("quantity").addEventListener("input", scheduleSummary);
  $("save-form").addEventListener("submit", save);
  $("export-profile").addEventListener("change", exportLinks);
  body.addEventListener("input", onInput);
  body.addEventListener("change", () => refreshChecks(true));
  body.addEventListener("click", onClick);
  body.addEventListener("keydown", onHandleKey);
  wireDragAndDrop();
  window.addEventListener("beforeunload", (e) => {
    if (state.dirty && state.ops.length) { e.preventDefault(); e.returnValue = ""; }
  });
  renderRows();
  loadRules();
  loadExportProfiles();
})();
