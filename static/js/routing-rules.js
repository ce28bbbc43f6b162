/* The routing rules, checked in the browser as the server checks them on save.

     const result = RoutingRules.check(operations, rules);
     result.rows[2].op_code   // ["unknown operation code 'XYZ'"]
     result.routing           // ["the last operation must be one of: INSP-F"]
     result.count             // number of problems

   `rules` is GET /api/v1/routing-rules ({allowed_op_codes: {code: name}, allowed_work_centers,
   mandatory_final_ops, max_minutes, min_operations}); null means "rules unknown": only the
   checks that need no catalogue run (numbers, duplicate seq). The server stays the judge. */
(function () {
  "use strict";

  const TIME_FIELDS = ["setup_min", "run_min", "queue_min", "wait_min", "move_min"];
  const TIME_LABELS = { setup_min: "setup", run_min: "run", queue_min: "queue", wait_min: "wait", move_min: "move" };

  function isBlank(value) {
    return value === null || value === undefined || String(value).trim() === "";
  }

  function add(errors, field, message) {
    (errors[field] = errors[field] || []).push(message);
  }

  function known(catalogue, code) {
    return !catalogue || !Object.keys(catalogue).length || Object.prototype.hasOwnProperty.call(catalogue, code);
  }

  function checkTimes(op, errors, maxMinutes) {
    for (const field of TIME_FIELDS) {
      if (isBlank(op[field])) continue; // blank counts as 0
      const value = Number(op[field]);
      if (!Number.isFinite(value)) add(errors, field, TIME_LABELS[field] + " time is not a number");
      else if (value < 0) add(errors, field, TIME_LABELS[field] + " time is negative");
      else if (maxMinutes && value > maxMinutes) add(errors, field, TIME_LABELS[field] + " time is above " + maxMinutes + " min");
    }
    const qty = Number(op.run_qty);
    if (isBlank(op.run_qty) || !Number.isFinite(qty) || qty <= 0) add(errors, "run_qty", "run qty must be above 0");
  }

  function checkRow(op, rules, seqCount) {
    const errors = {};
    const seq = Number(op.seq);
    if (isBlank(op.seq) || !Number.isInteger(seq) || seq < 0) add(errors, "seq", "seq must be a whole number ≥ 0");
    else if (seqCount[seq] > 1) add(errors, "seq", "duplicate seq " + seq);
    const opCode = String(op.op_code || "").trim();
    if (!opCode) add(errors, "op_code", "operation code is missing");
    else if (rules && !known(rules.allowed_op_codes, opCode)) add(errors, "op_code", "unknown operation code '" + opCode + "'");
    const wc = String(op.work_center || "").trim();
    if (!wc) add(errors, "work_center", "work center is missing");
    else if (rules && !known(rules.allowed_work_centers, wc)) add(errors, "work_center", "unknown work center '" + wc + "'");
    checkTimes(op, errors, rules && rules.max_minutes);
    return errors;
  }

  function check(operations, rules) {
    const seqCount = {};
    for (const op of operations) {
      const seq = Number(op.seq);
      if (!isBlank(op.seq) && Number.isInteger(seq)) seqCount[seq] = (seqCount[seq] || 0) + 1;
    }
    const rows = operations.map((op) => checkRow(op, rules, seqCount));
    const routing = [];
    const minOps = (rules && rules.min_operations) || 1;
    if (operations.length < minOps) routing.push("a routing needs at least " + minOps + " operation" + (minOps > 1 ? "s" : ""));
    const finals = (rules && rules.mandatory_final_ops) || [];
    if (finals.length && operations.length) {
      const last = String(operations[operations.length - 1].op_code || "").trim();
      if (!finals.includes(last)) {
        const message = "the last operation must be " + (finals.length > 1 ? "one of: " : "") + finals.join(", ");
        routing.push(message);
        add(rows[rows.length - 1], "op_code", message);
      }
    }
    let count = routing.length;
    rows.forEach((r) => { for (const msgs of Object.values(r)) count += msgs.length; });
    if (finals.length && operations.length && routing.some((m) => m.startsWith("the last operation"))) count -= 1;
    return { rows, routing, count };
  }

  window.RoutingRules = { check, TIME_FIELDS };
})();
