/* Blueprint editor: the pipeline graph whose node settings are the workflow parameters.

   Data: GET /api/v1/blueprints ({blueprints, node_types} or a plain list), POST
   /api/v1/blueprints/validate (live, debounced), PUT /api/v1/blueprints/<id> (save: a new
   revision), POST /api/v1/blueprints/<id>/apply (the settings become the running workflow),
   POST /api/v1/blueprints (copy as new), GET /api/v1/mapping-profiles (names for the source
   and exporter nodes). The graph itself is drawn and edited by GraphEditor (graph-editor.js). */
(function () {
  "use strict";

  const { el, readJson, detailOf } = consoleDom;
  const $ = (id) => document.getElementById(id);
  const toast = window.consoleToast;
  const canEdit = $("bp").dataset.canEdit === "true";
  const VALIDATE_DELAY = 400;

  const COLORS = {
    source: "#1f5f99", features: "#3a7bbf", embedding: "#5b5ea6", index: "#7a4f9e",
    registry: "#9a6700", runtime: "#1e7b4a", predictor: "#2f8f6b", exporter: "#6b7c2e",
  };
  const SHORT = {
    hnsw_m: "M", hnsw_ef_construction: "efC", hnsw_ef_search: "ef", embedding_dim: "dim",
    eval_sample: "eval", cache_size: "cache", top_k: "top-k", candidates: "cand",
    min_similarity: "min sim", percentiles: "p", prefer_actuals: "actuals", routing_rules: "rules",
    feature_weights: "weights", profile: "",
  };
  // Used when the server does not describe its node types (it normally does).
  const FALLBACK_TYPES = {
    source: { settings: { profile: { type: "profile" } } },
    features: { settings: { feature_weights: { type: "dict" } } },
    embedding: { settings: { embedding_dim: { type: "int" } } },
    index: { settings: { hnsw_m: { type: "int" }, hnsw_ef_construction: { type: "int" }, hnsw_ef_search: { type: "int" } } },
    registry: { settings: { eval_sample: { type: "int" } } },
    runtime: { settings: { cache_size: { type: "int" } } },
    predictor: { settings: { top_k: { type: "int" }, candidates: { type: "int" }, min_similarity: { type: "float" },
      percentiles: { type: "list" }, prefer_actuals: { type: "bool" }, routing_rules: { type: "dict" } } },
    exporter: { settings: { profile: { type: "profile" } } },
  };
  const PROFILE_DIRECTION = { source: "input", exporter: "output" };

  const state = {
    list: [],
    nodeTypes: FALLBACK_TYPES,
    current: null,
    graph: null,
    dirty: false,
    errors: [],        // from the server: [{node?, field?, message, path?}]
    local: {},         // settings that do not parse yet: {nodeId: {key: message}}
    validateTimer: null,
    validateTicket: 0,
  };

  const editor = GraphEditor.create({
    stage: $("bp-stage"),
    edgeLayer: $("bp-edge-layer"),
    colorOf: (type) => COLORS[type] || "#5b7083",
    summaryOf,
    onSelect: renderPanel,
    onChange: () => changed(true),
    onConnecting: (id) => { if (id) $("bp-state").textContent = "Connecting from " + id + ": click the target node (Esc cancels)."; else showState(); },
  });

  // -- helpers ----------------------------------------------------------------------------
  function showValue(v) {
    if (Array.isArray(v)) return v.join(",");
    if (v && typeof v === "object") {
      const entries = Object.entries(v);
      return entries.length ? entries.map(([k, x]) => k + "=" + showValue(x)).join(", ") : "default";
    }
    return String(v);
  }

  function summaryOf(node) {
    const s = node.settings || {};
    const parts = Object.entries(s).map(([k, v]) => ((SHORT[k] !== undefined ? SHORT[k] : k) + " " + showValue(v)).trim());
    return parts.length ? parts.join(" · ") : "defaults";
  }

  function clone(value) {
    return JSON.parse(JSON.stringify(value));
  }

  // -- list and opening -------------------------------------------------------------------
  async function loadList(openId) {
    const res = await consoleApi.fetch("/api/v1/blueprints");
    const data = await readJson(res);
    if (!res.ok) {
      $("bp-list").replaceChildren(el("li", { class: "field-error", text: "Could not load blueprints: " + detailOf(res, data) }));
      return;
    }
    state.list = Array.isArray(data) ? data : data.blueprints || [];
    if (data.node_types) state.nodeTypes = data.node_types;
    renderList();
    fillAddTypes();
    const wanted = openId || (state.current && state.current.id) || Number(new URLSearchParams(location.search).get("id"));
    const target = state.list.find((b) => b.id === wanted) || state.list[0];
    if (target && (!state.current || target.id !== state.current.id || openId)) open(target);
  }

  function renderList() {
    const list = $("bp-list");
    list.replaceChildren();
    if (!state.list.length) list.append(el("li", { class: "muted", text: "No blueprints yet." }));
    for (const bp of state.list) {
      const applied = bp.applied_revision ? (bp.applied_revision === bp.revision ? " · applied" : " · applied rev " + bp.applied_revision) : "";
      const button = el("button", { type: "button", "aria-current": state.current && state.current.id === bp.id ? "true" : "false", "data-id": String(bp.id) },
        bp.name, el("span", { class: "bp-meta", text: "revision " + bp.revision + applied }));
      button.addEventListener("click", () => open(bp));
      list.append(el("li", {}, button));
    }
  }

  async function open(bp) {
    if (state.dirty && state.current && bp.id !== state.current.id &&
        !window.confirm("Discard the unsaved changes to " + state.current.name + "?")) return;
    let full = bp;
    if (!bp.graph) {
      const res = await consoleApi.fetch("/api/v1/blueprints/" + bp.id);
      full = await readJson(res);
      if (!res.ok) { toast("Could not open " + bp.name + ": " + detailOf(res, full), "error"); return; }
    }
    state.current = full;
    state.graph = clone(full.graph || { nodes: [], edges: [] });
    state.errors = [];
    state.local = {};
    $("bp-name").value = full.name || "";
    $("bp-description").value = full.description || "";
    for (const id of ["bp-name", "bp-description", "bp-validate"]) $(id).disabled = false;
    editor.load(state.graph);
    state.dirty = false;
    renderList();
    fillAddTypes();
    renderPanel(null);
    showState();
    validateNow(false);
  }

  function showState() {
    const bp = state.current;
    if (!bp) return;
    const applied = bp.applied_revision ? "applied revision " + bp.applied_revision : "never applied";
    $("bp-state").textContent = "Revision " + bp.revision + " · " + applied + (state.dirty ? " · unsaved changes" : "");
    $("bp-save").disabled = !canEdit || !state.dirty;
    $("bp-apply").disabled = !canEdit || state.dirty;
    $("bp-apply").title = state.dirty ? "Save first: Apply uses the saved revision" : "Make these settings the running workflow";
  }

  function changed(revalidate) {
    state.dirty = true;
    showState();
    if (revalidate) scheduleValidate();
    const sel = editor.selection;
    if (sel && sel.node !== undefined) renderConnections(sel.node);
    else if (!sel) renderPanel(null);
  }

  // -- validation -------------------------------------------------------------------------
  function scheduleValidate() {
    clearTimeout(state.validateTimer);
    state.validateTimer = setTimeout(() => validateNow(false), VALIDATE_DELAY);
  }

  async function validateNow(announce) {
    clearTimeout(state.validateTimer);
    const ticket = ++state.validateTicket;
    const res = await consoleApi.fetch("/api/v1/blueprints/validate", { method: "POST", body: state.graph });
    const data = await readJson(res);
    if (ticket !== state.validateTicket) return null; // an edit since: a newer check is coming
    if (!res.ok) {
      if (announce) toast("Could not validate: " + detailOf(res, data), "error");
      return null;
    }
    state.errors = data.errors || [];
    showErrors();
    const local = localCount();
    if (announce) {
      if (data.valid && !local) toast("The blueprint is valid.", "success");
      else toast((state.errors.length + local) + " problem" + (state.errors.length + local === 1 ? "" : "s") + ": " + (state.errors[0] ? state.errors[0].message : "settings that do not parse"), "error");
    }
    return data.valid && !local;
  }

  function localCount() {
    return Object.values(state.local).reduce((n, fields) => n + Object.keys(fields).length, 0);
  }

  function cycleNodes(message) {
    const m = /cycle: (.+)$/.exec(message || "");
    return m ? m[1].split(" → ") : [];
  }

  function showErrors() {
    const nodes = {};
    const edges = new Set();
    const add = (id, msg) => { (nodes[id] = nodes[id] || []).push(msg); };
    for (const e of state.errors) {
      if (e.node) add(e.node, e.field ? e.field.replace(/^settings\./, "") + ": " + e.message.replace(/^[\w.]+: /, "") : e.message);
      const edge = /^graph\.edges\.(\d+)/.exec(e.path || "");
      if (edge) edges.add(Number(edge[1]));
      const cycle = cycleNodes(e.message);
      for (let i = 0; i + 1 < cycle.length; i++) {
        const j = state.graph.edges.findIndex((x) => x.from === cycle[i] && x.to === cycle[i + 1]);
        if (j >= 0) edges.add(j);
        if (i > 0) add(cycle[i], "part of a cycle");
      }
    }
    for (const [id, fields] of Object.entries(state.local)) for (const [k, msg] of Object.entries(fields)) add(id, k + ": " + msg);
    editor.setErrors({ nodes, edges });
    const list = $("bp-errors");
    list.replaceChildren(...state.errors.map((e) => el("li", { text: (e.node ? e.node + ": " : "") + e.message })));
    const sel = editor.selection;
    if (sel && sel.node !== undefined) renderNodeErrors(sel.node);
  }

  function errorsFromFields(fields) {
    const out = [];
    for (const [path, msgs] of Object.entries(fields || {})) {
      const m = /^graph\.nodes\.(\d+)(?:\.(.+))?$/.exec(path);
      const node = m && state.graph.nodes[Number(m[1])] ? state.graph.nodes[Number(m[1])].id : undefined;
      for (const message of [].concat(msgs)) out.push({ node, field: m ? m[2] : undefined, message: String(message), path });
    }
    return out;
  }

  // -- save, apply, copy ------------------------------------------------------------------
  async function save() {
    if (localCount()) { toast("Fix the settings marked in red before saving.", "error"); return; }
    const name = $("bp-name").value.trim();
    if (!name) { toast("The blueprint needs a name.", "error"); $("bp-name").focus(); return; }
    $("bp-save").disabled = true;
    const res = await consoleApi.fetch("/api/v1/blueprints/" + state.current.id, {
      method: "PUT", body: { name, description: $("bp-description").value.trim(), graph: state.graph },
    });
    const data = await readJson(res);
    if (!res.ok) {
      if (data.fields) { state.errors = errorsFromFields(data.fields); showErrors(); }
      toast("Not saved: " + detailOf(res, data), "error");
      showState();
      return;
    }
    state.current = data;
    state.dirty = false;
    state.errors = [];
    showErrors();
    toast("Saved " + data.name + " as revision " + data.revision + ".", "success");
    await loadList(data.id);
    showState();
  }

  async function apply() {
    const res = await consoleApi.fetch("/api/v1/blueprints/" + state.current.id + "/apply", { method: "POST" });
    const data = await readJson(res);
    if (!res.ok) {
      if (data.fields) { state.errors = errorsFromFields(data.fields); showErrors(); }
      toast("Not applied: " + detailOf(res, data), "error");
      return;
    }
    const bp = data.blueprint || {};
    state.current.applied_revision = bp.applied_revision || state.current.revision;
    const config = data.workflow && (data.workflow.id || data.workflow.revision);
    toast("Applied revision " + state.current.applied_revision + (config ? " as workflow config #" + config : "") +
      ": the next training and the running predictor use these settings.", "success");
    await loadList(state.current.id);
    showState();
  }

  async function copyAsNew(event) {
    event.preventDefault();
    const name = $("bp-new-name").value.trim();
    if (!name || !state.graph) { toast("Open a blueprint and enter a name for the copy.", "error"); return; }
    const res = await consoleApi.fetch("/api/v1/blueprints", {
      method: "POST", body: { name, description: $("bp-description").value.trim(), graph: state.graph },
    });
    const data = await readJson(res);
    if (!res.ok) { toast("Not created: " + detailOf(res, data), "error"); return; }
    $("bp-new-name").value = "";
    state.dirty = false;
    toast("Created " + data.name + ".", "success");
    await loadList(data.id);
  }

  // -- adding and removing nodes ----------------------------------------------------------
  function fillAddTypes() {
    const select = $("bp-add-type");
    const used = new Set((state.graph ? state.graph.nodes : []).map((n) => n.type));
    select.replaceChildren(...Object.keys(state.nodeTypes).map((t) => el("option", { value: t, text: t + (used.has(t) ? " (in use)" : ""), disabled: used.has(t) })));
    const free = Object.keys(state.nodeTypes).find((t) => !used.has(t));
    if (free) select.value = free;
    // one node per type: the control shows only while a type is missing from the graph
    $("bp-add-group").hidden = !state.graph || !free || !canEdit;
  }

  function addNode() {
    const type = $("bp-add-type").value;
    if (!type) return;
    let id = type, n = 2;
    while (state.graph.nodes.some((x) => x.id === id)) id = type + "-" + n++;
    const canvas = $("bp-canvas");
    state.graph.nodes.push({ id, type, settings: {}, position: { x: canvas.scrollLeft + 40, y: canvas.scrollTop + 420 } });
    editor.render();
    editor.resizeStage();
    editor.select({ node: id });
    fillAddTypes();
    changed(true);
  }

  function removeNode(id) {
    state.graph.nodes = state.graph.nodes.filter((n) => n.id !== id);
    state.graph.edges = state.graph.edges.filter((e) => e.from !== id && e.to !== id);
    delete state.local[id];
    editor.select(null);
    fillAddTypes();
    changed(true);
  }

  // -- the side panel ---------------------------------------------------------------------
  function renderPanel(sel) {
    const panel = $("bp-panel");
    panel.replaceChildren();
    if (!state.graph) {
      panel.append(el("h2", { text: "Settings" }), el("p", { class: "muted", text: "Open a blueprint." }));
    } else if (sel && sel.edge !== undefined) {
      renderEdgePanel(panel, sel.edge);
    } else if (sel && sel.node !== undefined) {
      renderNodePanel(panel, sel.node);
    } else {
      const bp = state.current;
      panel.append(el("h2", { text: bp.name }),
        el("p", { class: "muted", text: bp.description || "" }),
        el("p", { text: state.graph.nodes.length + " nodes, " + state.graph.edges.length + " connections." }),
        el("p", { class: "muted", text: "Select a node to edit its settings; a connection to remove it. Settings a node leaves empty keep the workflow's current value." }));
    }
  }

  function renderEdgePanel(panel, index) {
    const edge = state.graph.edges[index];
    if (!edge) return renderPanel(null);
    const remove = el("button", { type: "button", class: "button", id: "bp-remove-edge", text: "Remove connection", disabled: !canEdit });
    remove.addEventListener("click", () => editor.disconnect(index));
    panel.append(el("h2", { text: "Connection" }), el("p", {}, el("strong", { text: edge.from }), " → ", el("strong", { text: edge.to })), remove);
  }

  function renderNodePanel(panel, id) {
    const node = state.graph.nodes.find((n) => n.id === id);
    if (!node) return renderPanel(null);
    node.settings = node.settings || {};
    panel.append(
      el("h2", {}, el("span", { class: "badge", style: "background:" + (COLORS[node.type] || "#5b7083") + ";color:#fff", text: node.type }), node.id),
      el("ul", { class: "node-error-list", id: "bp-node-errors" }),
      settingsForm(node),
      el("h3", { class: "muted", text: "Connections" }),
      el("div", { id: "bp-connections" }));
    const remove = el("button", { type: "button", class: "button small", id: "bp-remove-node", text: "Remove node", disabled: !canEdit });
    remove.addEventListener("click", () => removeNode(node.id));
    panel.append(remove);
    renderNodeErrors(id);
    renderConnections(id);
  }

  function renderNodeErrors(id) {
    const list = $("bp-node-errors");
    if (!list) return;
    const msgs = state.errors.filter((e) => e.node === id).map((e) => e.message);
    for (const [k, msg] of Object.entries(state.local[id] || {})) msgs.push(k + ": " + msg);
    list.replaceChildren(...msgs.map((m) => el("li", { text: m })));
    const bad = new Set(state.errors.filter((e) => e.node === id && e.field).map((e) => e.field.replace(/^settings\./, "")));
    for (const input of document.querySelectorAll("#bp-panel [data-key]")) {
      const key = input.dataset.key;
      input.classList.toggle("invalid", bad.has(key) || Boolean(state.local[id] && state.local[id][key]));
    }
  }

  function settingsForm(node) {
    const form = el("div", { class: "form" });
    const schema = (state.nodeTypes[node.type] || { settings: {} }).settings || {};
    const keys = Object.keys(schema).concat(Object.keys(node.settings).filter((k) => !(k in schema)));
    if (!keys.length) form.append(el("p", { class: "muted", text: "This node type has no settings." }));
    for (const key of keys) form.append(...settingField(node, key, schema[key] || { type: "json", help: "not a setting of this node type" }));
    return form;
  }

  function settingField(node, key, spec) {
    const type = String(spec.type || "json");
    const value = node.settings[key];
    const id = "bp-set-" + key;
    const common = { id, "data-key": key, disabled: !canEdit };
    const hint = [spec.help, spec.default !== undefined && spec.default !== null && typeof spec.default !== "object" ? "default " + spec.default : "",
      spec.min !== undefined && spec.min !== null ? "min " + spec.min : "", spec.max !== undefined && spec.max !== null ? "max " + spec.max : ""].filter(Boolean).join(" · ");
    let input;
    if (type === "bool") {
      const checked = value === undefined ? Boolean(spec.default) : Boolean(value);
      input = el("input", Object.assign({ type: "checkbox", checked }, common));
      const row = el("label", { class: "check-row", for: id }, input, key);
      input.addEventListener("change", () => setSetting(node, key, input.checked));
      return [row, el("p", { class: "hint", text: hint })];
    }
    if (type === "dict" || type === "json") {
      input = el("textarea", Object.assign({ rows: "4", spellcheck: "false", placeholder: "{}" }, common));
      input.value = value === undefined ? "" : JSON.stringify(value, null, 1);
    } else if (type === "list") {
      input = el("input", Object.assign({ placeholder: (spec.default || []).join(", ") }, common));
      input.value = Array.isArray(value) ? value.join(", ") : value === undefined ? "" : String(value);
    } else if (type === "profile") {
      input = el("input", Object.assign({ list: "bp-profiles-" + (PROFILE_DIRECTION[node.type] || "input"), maxlength: "100" }, common));
      input.value = value === undefined ? "" : String(value);
    } else {
      const isInt = type === "int";
      input = el("input", Object.assign({ type: "number", step: isInt ? "1" : "any", min: spec.min, max: spec.max,
        placeholder: spec.default === undefined || spec.default === null ? "" : String(spec.default) }, common));
      input.value = value === undefined ? "" : String(value);
    }
    input.addEventListener("input", () => {
      const parsed = parseSetting(type, input.value);
      const local = state.local[node.id] = state.local[node.id] || {};
      if (parsed.error) local[key] = parsed.error;
      else delete local[key];
      if (!Object.keys(local).length) delete state.local[node.id];
      if (!parsed.error) setSetting(node, key, parsed.value, true);
      else { showErrors(); changed(false); }
    });
    return [el("label", { for: id, text: key }), input, hint ? el("p", { class: "hint", text: hint }) : null];
  }

  function parseSetting(type, raw) {
    const text = raw.trim();
    if (!text) return { value: undefined };
    if (type === "dict" || type === "json") {
      try { return { value: JSON.parse(text) }; } catch (e) { return { error: "not valid JSON" }; }
    }
    if (type === "list") {
      const items = text.split(",").map((s) => s.trim()).filter(Boolean);
      const numbers = items.map(Number);
      return numbers.every(Number.isFinite) ? { value: numbers } : { error: "a list of numbers, e.g. 50, 80, 90" };
    }
    if (type === "profile") return { value: text };
    const n = Number(text);
    if (!Number.isFinite(n)) return { error: "not a number" };
    if (type === "int" && !Number.isInteger(n)) return { error: "a whole number" };
    return { value: n };
  }

  function setSetting(node, key, value, keepPanel) {
    if (value === undefined) delete node.settings[key];
    else node.settings[key] = value;
    editor.render();
    showErrors();
    changed(true);
    if (!keepPanel) renderNodeErrors(node.id);
  }

  function renderConnections(id) {
    const box = $("bp-connections");
    if (!box) return;
    const rows = [];
    state.graph.edges.forEach((e, i) => {
      if (e.from !== id && e.to !== id) return;
      const remove = el("button", { type: "button", class: "icon-button", title: "Remove connection", "aria-label": "Remove connection " + e.from + " to " + e.to, text: "×", disabled: !canEdit });
      remove.addEventListener("click", () => { editor.disconnect(i); editor.select({ node: id }); });
      rows.push(el("li", {}, el("span", { text: e.from === id ? "→ " + e.to : "← " + e.from }), remove));
    });
    const select = el("select", { id: "bp-connect-to", "aria-label": "Connect to node", disabled: !canEdit },
      ...state.graph.nodes.filter((n) => n.id !== id).map((n) => el("option", { value: n.id, text: n.id })));
    const add = el("button", { type: "button", class: "button small", id: "bp-connect", text: "Connect", disabled: !canEdit });
    add.addEventListener("click", () => {
      const why = editor.connect(id, select.value);
      if (why) toast(why, "warning");
      editor.select({ node: id });
    });
    box.replaceChildren(el("ul", { class: "edge-list" }, ...(rows.length ? rows : [el("li", { class: "muted", text: "Not connected." })])),
      el("div", { class: "connect-row" }, el("span", { class: "muted", text: "to" }), select, add));
  }

  // -- mapping profile names for the source and exporter nodes ----------------------------
  async function loadProfiles() {
    try {
      const res = await consoleApi.fetch("/api/v1/mapping-profiles");
      if (!res.ok) return;
      const data = await res.json();
      const rows = Array.isArray(data) ? data : data.profiles || [];
      for (const direction of ["input", "output"]) {
        $("bp-profiles-" + direction).replaceChildren(...rows.filter((p) => (p.direction || "input") === direction)
          .map((p) => el("option", { value: p.name, label: p.description || p.name })));
      }
    } catch (e) { /* names are a convenience; the validator still checks them */ }
  }

  function legend() {
    $("bp-legend").replaceChildren(...Object.entries(COLORS).map(([type, color]) => {
      const item = el("span", { text: type });
      item.style.setProperty("--node-color", color);
      return item;
    }));
  }

  // -- wiring -----------------------------------------------------------------------------
  $("bp-validate").addEventListener("click", () => validateNow(true));
  $("bp-save").addEventListener("click", save);
  $("bp-apply").addEventListener("click", apply);
  $("bp-add").addEventListener("click", addNode);
  $("bp-new").addEventListener("submit", copyAsNew);
  $("bp-zoom-in").addEventListener("click", () => editor.zoom(1.2));
  $("bp-zoom-out").addEventListener("click", () => editor.zoom(1 / 1.2));
  $("bp-zoom-fit").addEventListener("click", () => editor.fit());
  for (const id of ["bp-name", "bp-description"]) $(id).addEventListener("input", () => changed(false));
  window.addEventListener("beforeunload", (e) => { if (state.dirty) { e.preventDefault(); e.returnValue = ""; } });
  legend();
  loadProfiles();
  loadList();
})();
