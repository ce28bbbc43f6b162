/* The routing editor's operations table: edit, add, remove, drag to reorder, live checks.

     const table = RoutingTable.create({
       body, foot, status, errorList,        // <tbody>, <tfoot>, the status badge, the <ul>
       rules: () => rules,                   // GET /api/v1/routing-rules, or null
       onChange: (structural) => {},         // any edit (structural: rows added/moved/removed)
     });
     table.load(candidate.operations);
     table.operations(true)                  // the rows as the API takes them
     table.setServerErrors(body.fields)      // {"operations.2.op_code": [...]} → on the rows

   Structural changes rebuild the rows; typing only updates the row's object and the badges, so
   the focus stays where the engineer is typing. Moving a row renumbers seq 10, 20, 30 … */
(function () {
  "use strict";

  const FIELDS = ["seq", "op_code", "op_name", "work_center", "work_center_name", "in_house",
    "setup_min", "run_min", "run_qty", "queue_min", "wait_min", "move_min"];
  const NUMBER_FIELDS = ["setup_min", "run_min", "run_qty", "queue_min", "wait_min", "move_min"];
  const MAX_TOASTS_PER_CHANGE = 3;
  const { el, fmt } = consoleDom;

  function create(options) {
    const { body, foot, status, errorList } = options;
    const toast = window.consoleToast;
    let ops = [];
    let nextKey = 1;
    let serverErrors = [];   // per row: {field: [messages]} from the last refused save
    let serverRouting = [];  // messages about the routing as a whole
    let announced = new Set();
    let check = { rows: [], routing: [], count: 0 };

    function catalogueName(kind, code) {
      const rules = options.rules();
      const cat = rules && rules[kind];
      return cat && Object.prototype.hasOwnProperty.call(cat, code) ? cat[code] : null;
    }

    // -- rows ------------------------------------------------------------------------------
    function editable(op) {
      const row = { key: nextKey++ };
      for (const f of FIELDS) row[f] = op[f] === undefined || op[f] === null ? "" : op[f];
      // minutes to two decimals: what an engineer reads and types (the statistics carry more)
      for (const f of NUMBER_FIELDS) if (typeof row[f] === "number") row[f] = Math.round(row[f] * 100) / 100;
      if (row.in_house === "") row.in_house = true;
      if (row.run_qty === "") row.run_qty = 1;
      for (const extra of ["p80", "p90", "time_source", "samples"]) if (op[extra] !== undefined) row[extra] = op[extra];
      return row;
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

    function numberInput(op, field, extraClass) {
      return el("td", {}, el("input", {
        type: "number", step: "any", min: "0", class: "num " + (extraClass || ""), "data-field": field,
        value: op[field] === "" ? "" : String(op[field]), "aria-label": field.replace("_min", "").replace("_", " "),
        title: percentileHint(op, field),
      }));
    }

    function textInput(op, field, attrs) {
      return el("input", Object.assign({ "data-field": field, value: op[field], maxlength: "64" }, attrs));
    }

    function buildRow(op, index) {
      return el("tr", { "data-index": String(index), "data-key": String(op.key) },
        el("td", { class: "handle-col" }, el("button", {
          type: "button", class: "drag-handle", title: "Drag to reorder (or focus and use the arrow keys)",
          "aria-label": "Move operation " + op.seq + " (arrow keys)", text: "☰" })),
        el("td", {}, el("input", { type: "number", step: "10", min: "0", class: "num seq", "data-field": "seq", value: String(op.seq), "aria-label": "Seq" })),
        el("td", {}, textInput(op, "op_code", { class: "code", list: "op-codes", "aria-label": "Operation code" })),
        el("td", {}, textInput(op, "op_name", { class: "name", maxlength: "200", "aria-label": "Operation name" }),
          el("div", { class: "cell-note", text: sourceNote(op) })),
        el("td", {}, textInput(op, "work_center", { class: "code", list: "work-centers", "aria-label": "Work center" }),
          el("div", { class: "cell-note wc-name", text: op.work_center_name || "" })),
        el("td", { class: "center" }, el("input", { type: "checkbox", "data-field": "in_house", checked: op.in_house !== false, "aria-label": "In-house" })),
        numberInput(op, "setup_min"), numberInput(op, "run_min"), numberInput(op, "run_qty", "qty"),
        numberInput(op, "queue_min"), numberInput(op, "wait_min"), numberInput(op, "move_min"),
        el("td", { class: "num lead" }),
        el("td", { class: "check" }, el("span", { class: "badge row-badge" })),
        el("td", {}, el("button", { type: "button", class: "icon-button remove-op", title: "Remove operation", "aria-label": "Remove operation " + op.seq, text: "×" })));
    }

    function renderRows() {
      body.replaceChildren(...ops.map(buildRow));
      foot.hidden = !ops.length;
      if (!ops.length) {
        body.append(el("tr", {}, el("td", { colspan: "15", class: "empty muted", text: "No operations yet: choose a candidate above or add operations." })));
      }
    }

    function structuralChange() {
      serverErrors = [];
      serverRouting = [];
      renderRows();
      refresh(true);
      options.onChange(true);
    }

    function renumber() {
      ops.forEach((op, i) => { op.seq = (i + 1) * 10; });
    }

    function move(from, to) {
      if (from === to || to < 0 || to >= ops.length) return;
      const [op] = ops.splice(from, 1);
      ops.splice(to, 0, op);
      renumber();
      structuralChange();
    }

    function add() {
      const last = ops.reduce((m, op) => Math.max(m, Number(op.seq) || 0), 0);
      ops.push(editable({ seq: last + 10, op_code: "", op_name: "", work_center: "", in_house: true,
        setup_min: 0, run_min: 0, run_qty: 1, queue_min: 0, wait_min: 0, move_min: 0 }));
      structuralChange();
      body.querySelector("tr:last-child [data-field='op_code']").focus();
    }

    // -- edits -----------------------------------------------------------------------------
    function rowIndex(target) {
      const tr = target.closest("tr[data-index]");
      return tr ? Number(tr.dataset.index) : -1;
    }

    function onInput(event) {
      const field = event.target.dataset.field;
      const i = rowIndex(event.target);
      if (!field || i < 0) return;
      const op = ops[i];
      const previous = op[field];
      op[field] = event.target.type === "checkbox" ? event.target.checked : event.target.value;
      if (field === "op_code") fillName(op, event.target, "allowed_op_codes", "op_name", previous);
      if (field === "work_center") fillName(op, event.target, "allowed_work_centers", "work_center_name", previous);
      if (serverErrors[i]) delete serverErrors[i][field];
      refresh(false);
      options.onChange(false);
    }

    /** A known code fills its name, unless the engineer has written a name of their own. */
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
      ops.splice(rowIndex(remove), 1);
      structuralChange();
    }

    function onHandleKey(event) {
      const handle = event.target.closest(".drag-handle");
      if (!handle || (event.key !== "ArrowUp" && event.key !== "ArrowDown")) return;
      event.preventDefault();
      const from = rowIndex(handle);
      const to = Math.max(0, Math.min(from + (event.key === "ArrowUp" ? -1 : 1), ops.length - 1));
      move(from, to);
      const moved = body.querySelector('tr[data-index="' + to + '"] .drag-handle');
      if (moved) moved.focus();
    }

    // -- drag and drop (native HTML5; a row becomes draggable only from its handle) --------
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
        const pos = dragFrom === null ? null : dropPosition(e);
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
        if (pos) move(from, pos.index > from ? pos.index - 1 : pos.index);
      });
      body.addEventListener("dragend", (e) => {
        dragFrom = null;
        clearDropMarks();
        const tr = e.target.closest("tr");
        if (tr) tr.draggable = false;
      });
    }

    // -- checks: badges, the routing's own problems, toasts for new problems ----------------
    function rowErrors(i) {
      const merged = {};
      for (const source of [check.rows[i] || {}, serverErrors[i] || {}]) {
        for (const [field, msgs] of Object.entries(source)) merged[field] = (merged[field] || []).concat(msgs);
      }
      return merged;
    }

    function paintRow(tr, current) {
      const i = Number(tr.dataset.index);
      const errors = rowErrors(i);
      tr.querySelectorAll("[data-field]").forEach((input) => {
        const msgs = errors[input.dataset.field];
        input.classList.toggle("invalid", Boolean(msgs));
        if (msgs) input.setAttribute("aria-invalid", "true");
        else input.removeAttribute("aria-invalid");
        input.title = msgs ? msgs.join("; ") : (percentileHint(ops[i], input.dataset.field) || "");
      });
      if (errors.row) tr.querySelector("[data-field='seq']").classList.add("invalid");
      const all = [].concat(...Object.values(errors));
      const badge = tr.querySelector(".row-badge");
      badge.className = "badge row-badge " + (all.length ? "error" : "ok");
      badge.textContent = all.length ? all[0] + (all.length > 1 ? " (+" + (all.length - 1) + ")" : "") : "OK";
      badge.title = all.join("\n");
      tr.classList.toggle("has-errors", all.length > 0);
      for (const msg of all) current.set(ops[i].key + "|" + msg, "Seq " + ops[i].seq + ": " + msg);
    }

    /** Check the rows again; with ``announce``, toast the problems that are new. */
    function refresh(announce) {
      check = RoutingRules.check(ops, options.rules());
      const current = new Map();
      body.querySelectorAll("tr[data-index]").forEach((tr) => paintRow(tr, current));
      // an empty table is a starting point, not a mistake: the rules speak once rows exist
      const routingMsgs = ops.length ? check.routing.concat(serverRouting) : [];
      const onRows = new Set([].concat(...check.rows.map((r) => [].concat(...Object.values(r)))));
      for (const msg of check.routing) if (!onRows.has(msg)) current.set("routing|" + msg, "Routing: " + msg);
      errorList.replaceChildren(...routingMsgs.map((m) => el("li", { text: m })));
      const n = problems();
      status.hidden = !ops.length;
      status.className = "badge " + (n ? "error" : "ok");
      status.textContent = n ? n + " problem" + (n === 1 ? "" : "s") : "valid";
      if (announce && ops.length) announceChanges(current);
    }

    function problems() {
      if (!ops.length) return 0;
      let n = check.count + serverRouting.length;
      for (const row of serverErrors) if (row) for (const msgs of Object.values(row)) n += msgs.length;
      return n;
    }

    function announceChanges(current) {
      const fresh = [...current.entries()].filter(([key]) => !announced.has(key)).map(([, text]) => text);
      const hadProblems = announced.size > 0;
      announced = new Set(current.keys());
      fresh.slice(0, MAX_TOASTS_PER_CHANGE).forEach((text) => toast(text, "error"));
      if (fresh.length > MAX_TOASTS_PER_CHANGE) toast("… and " + (fresh.length - MAX_TOASTS_PER_CHANGE) + " more problems", "error");
      if (hadProblems && !current.size) toast("The routing passes the rules.", "success");
    }

    /** A refused save's ``fields`` on the rows; returns the messages about other fields. */
    function setServerErrors(fields) {
      serverErrors = [];
      serverRouting = [];
      const others = {};
      for (const [key, raw] of Object.entries(fields || {})) {
        const msgs = [].concat(raw).map(String);
        const m = /^operations\.(\d+)(?:\.(\w+))?$/.exec(key);
        if (m && ops[Number(m[1])]) {
          const i = Number(m[1]);
          serverErrors[i] = Object.assign(serverErrors[i] || {}, { [m[2] || "row"]: msgs });
        } else if (key === "operations" || key === "non_field_errors") {
          serverRouting.push(msgs.join(" "));
        } else {
          others[key] = msgs;
        }
      }
      refresh(true);
      return others;
    }

    // -- what the page reads ---------------------------------------------------------------
    function payloadOp(op, forSave) {
      const out = {};
      for (const f of FIELDS) {
        const v = op[f];
        const blank = String(v).trim() === "";
        if (f === "in_house") out[f] = v !== false;
        else if (f === "seq") { if (!blank && Number.isInteger(Number(v))) out[f] = Number(v); }
        else if (NUMBER_FIELDS.includes(f)) out[f] = blank ? (f === "run_qty" ? 1 : 0) : Number(v);
        else if (forSave || !blank) out[f] = String(v).trim();
      }
      return out;
    }

    /** True when every time is a number the time summary accepts (too-large ones still add). */
    function numbersUsable() {
      return check.rows.every((r) => !NUMBER_FIELDS.some((f) => r[f] && r[f].some((m) => !/above \d/.test(m))));
    }

    function showLeads(summary) {
      body.querySelectorAll("tr[data-index] .lead").forEach((cell, i) => {
        const op = summary && summary.operations && summary.operations[i];
        cell.textContent = op ? fmt(op.lead_min, 1) : "—";
      });
    }

    function load(operations) {
      ops = operations.map(editable);
      serverErrors = [];
      serverRouting = [];
      announced = new Set();
      renderRows();
      refresh(true);
    }

    body.addEventListener("input", onInput);
    body.addEventListener("change", () => refresh(true));
    body.addEventListener("click", onClick);
    body.addEventListener("keydown", onHandleKey);
    wireDragAndDrop();
    renderRows();

    return {
      load, add, move, refresh, setServerErrors, showLeads, numbersUsable, problems,
      renumber: () => { renumber(); structuralChange(); },
      operations: (forSave) => ops.map((op) => payloadOp(op, forSave)),
      get length() { return ops.length; },
      get clientProblems() { return ops.length ? check.count : 0; },
    };
  }

  window.RoutingTable = { create };
})();
