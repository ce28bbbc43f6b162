/* Dashboard: active version, cache, latency, request counts, training history, the engineers'
   acceptance of proposals (online figures per version and week) and the drift warning.
   Reads GET /api/v1/dashboard-data every 5 s (paused while the tab is hidden) and redraws the
   cards and the ECharts charts in place. */
(function () {
  "use strict";

  const REFRESH_MS = 5000;
  const COLORS = { p50: "#1f5f99", p95: "#c28a1e", p99: "#b42318" };
  const STATUS_COLORS = { "2xx": "#1e7b4a", "3xx": "#5b7083", "4xx": "#c28a1e", "5xx": "#b42318" };
  const RUN_COLORS = { succeeded: "#1e7b4a", failed: "#b42318", running: "#1f5f99", queued: "#8a96a3" };
  const STATUS_BADGE = { ok: "ok", degraded: "warn", unavailable: "error" };

  const $ = (id) => document.getElementById(id);
  const charts = {};
  // tooltips are HTML: anything that came from the server is escaped first
  const esc = (text) => echarts.format.encodeHTML(String(text === null || text === undefined ? "" : text));

  function chart(id) {
    if (!charts[id]) charts[id] = echarts.init($(id), null, { renderer: "canvas" });
    return charts[id];
  }

  function setText(id, text, title) {
    const el = $(id);
    el.textContent = text;
    if (title !== undefined) el.title = title;
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "—";
    const s = Math.round(seconds);
    if (s < 60) return s + " s";
    if (s < 3600) return Math.floor(s / 60) + " min " + (s % 60) + " s";
    const h = Math.floor(s / 3600);
    if (h < 48) return h + " h " + Math.floor((s % 3600) / 60) + " min";
    return Math.floor(h / 24) + " d " + (h % 24) + " h";
  }

  function when(iso) {
    if (!iso) return "—";
    const d = new Date(iso);
    return isNaN(d) ? iso : d.toLocaleString();
  }

  function emptyGraphic(message) {
    return {
      type: "text", left: "center", top: "middle", silent: true,
      style: { text: message, fill: "#616e7c", fontSize: 14 },
    };
  }

  // -- cards ------------------------------------------------------------------------------
  function renderHealth(h) {
    const serving = h.serving_version || "none";
    setText("v-serving", serving);
    const badge = $("v-status");
    badge.textContent = h.status;
    badge.className = "badge " + (STATUS_BADGE[h.status] || "");
    setText("v-active", h.active_version || "no active version");
    const sha = (h.manifest && h.manifest.sha256) || "";
    setText("v-sha", sha ? sha.slice(0, 12) : "—", sha);
    setText("v-uptime", duration(h.uptime_s));

    const noModel = !h.serving_version;
    $("dash-no-model").hidden = !noModel;
    // The runtime's own reason, unless it only repeats the advice above.
    const detail = noModel && h.detail && !/^No active model version/.test(h.detail) ? h.detail : "";
    setText("dash-no-model-detail", detail);

    const c = h.cache || {};
    const lookups = (c.hits || 0) + (c.misses || 0);
    setText("c-rate", lookups ? (100 * (c.hit_rate || 0)).toFixed(1) + " %" : "—");
    setText("c-hits", (c.hits || 0) + " / " + (c.misses || 0));
    setText("c-size", (c.size || 0) + " of " + (c.capacity || 0));

    const list = $("alert-list");
    list.replaceChildren();
    const alerts = (h.alerts || []).slice().reverse();
    if (!alerts.length) {
      const li = document.createElement("li");
      li.className = "muted";
      li.textContent = "None.";
      list.append(li);
    }
    for (const a of alerts) {
      const li = document.createElement("li");
      const level = document.createElement("span");
      level.className = "badge " + (a.level === "ERROR" ? "error" : "warn");
      level.textContent = String(a.level).toLowerCase();
      const time = a.at ? new Date(a.at * 1000).toLocaleTimeString() + " " : "";
      li.append(level, " " + time + a.message);
      list.append(li);
    }
  }

  function renderRequestCards(requests, latency) {
    let total = 0, client = 0, server = 0;
    for (const [key, n] of Object.entries(requests)) {
      const status = key.split("|")[1];
      total += n;
      if (status === "4xx") client += n;
      if (status === "5xx") server += n;
    }
    setText("r-total", String(total));
    setText("r-errors", client + " / " + server);
    let slowest = null;
    for (const [endpoint, l] of Object.entries(latency)) {
      if (!slowest || l.p95 > slowest.p95) slowest = { endpoint, p95: l.p95 };
    }
    const slowestText = slowest ? slowest.p95 + " ms (" + slowest.endpoint + ")" : "—";
    setText("r-slowest", slowestText, slowest ? "Slowest p95: " + slowestText : "");
  }

  // -- charts -----------------------------------------------------------------------------
  function renderLatency(latency) {
    const endpoints = Object.keys(latency).sort();
    const series = ["p50", "p95", "p99"].map((p) => ({
      name: p, type: "bar", barMaxWidth: 18, itemStyle: { color: COLORS[p] },
      data: endpoints.map((e) => latency[e][p]),
    }));
    chart("chart-latency").setOption({
      animation: false,
      grid: { left: 50, right: 16, top: 30, bottom: 60 },
      legend: { top: 0 },
      tooltip: {
        trigger: "axis", axisPointer: { type: "shadow" },
        formatter: (items) => {
          const e = items.length ? items[0].axisValue : "";
          const n = latency[e] ? latency[e].count : 0;
          return [esc(e) + " (" + n + (n === 1 ? " request)" : " requests)"), ...items.map((i) => i.marker + esc(i.seriesName) + ": " + esc(i.value) + " ms")].join("<br>");
        },
      },
      xAxis: { type: "category", data: endpoints, axisLabel: { interval: 0, rotate: endpoints.length > 5 ? 30 : 0 } },
      yAxis: { type: "value", name: "ms" },
      series,
      graphic: endpoints.length ? [] : [emptyGraphic("No API requests in the last 15 minutes")],
    }, { replaceMerge: ["series", "graphic"] });
  }

  function renderRequests(requests) {
    const counts = {};
    const classes = new Set();
    for (const [key, n] of Object.entries(requests)) {
      const [endpoint, status] = key.split("|");
      counts[endpoint] = counts[endpoint] || {};
      counts[endpoint][status] = (counts[endpoint][status] || 0) + n;
      classes.add(status);
    }
    const endpoints = Object.keys(counts).sort();
    const series = Array.from(classes).sort().map((status) => ({
      name: status, type: "bar", stack: "requests", barMaxWidth: 28,
      itemStyle: { color: STATUS_COLORS[status] || "#5b7083" },
      data: endpoints.map((e) => counts[e][status] || 0),
    }));
    chart("chart-requests").setOption({
      animation: false,
      grid: { left: 50, right: 16, top: 30, bottom: 60 },
      legend: { top: 0 },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      xAxis: { type: "category", data: endpoints, axisLabel: { interval: 0, rotate: endpoints.length > 5 ? 30 : 0 } },
      yAxis: { type: "value", minInterval: 1 },
      series,
      graphic: endpoints.length ? [] : [emptyGraphic("No API requests yet")],
    }, { replaceMerge: ["series", "graphic"] });
  }

  function runSeconds(run) {
    if (run.duration_s !== null && run.duration_s !== undefined) return run.duration_s;
    if (run.started_at) return (Date.now() - new Date(run.started_at).getTime()) / 1000;
    return 0;
  }

  function renderTraining(runs) {
    const ordered = runs.slice().sort((a, b) => a.id - b.id);
    const labels = ordered.map((r) => "#" + r.id + (r.version ? " " + r.version : ""));
    const data = ordered.map((r) => ({
      value: Math.round(runSeconds(r) * 10) / 10,
      itemStyle: { color: RUN_COLORS[r.state] || "#5b7083" },
      run: r,
    }));
    chart("chart-training").setOption({
      animation: false,
      grid: { left: 50, right: 16, top: 34, bottom: 40 },
      tooltip: {
        trigger: "item",
        formatter: (p) => {
          const r = p.data.run;
          const stages = Object.entries(r.timings || {}).map(([k, v]) => esc(k) + ": " + Number(v).toFixed(1) + " s");
          return [esc(p.name) + " — " + esc(r.state) + (r.stage ? " (" + esc(r.stage) + ")" : ""), "Duration: " + duration(p.value), ...stages,
            r.error ? "Error: " + esc(r.error) : ""].filter(Boolean).join("<br>");
        },
      },
      xAxis: { type: "category", data: labels },
      yAxis: { type: "value", name: "s" },
      series: [{ type: "bar", barMaxWidth: 36, data }],
      graphic: ordered.length ? [] : [emptyGraphic("No training runs yet")],
    }, { replaceMerge: ["series", "graphic"] });
    renderRunsTable(runs);
  }

  function cell(text, className) {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    return td;
  }

  function renderRunsTable(runs) {
    const body = $("runs-table").tBodies[0];
    body.replaceChildren();
    if (!runs.length) {
      const tr = document.createElement("tr");
      const td = cell("No training runs yet.", "muted");
      td.colSpan = 8;
      tr.append(td);
      body.append(tr);
      return;
    }
    for (const r of runs.slice(0, 8)) {
      const tr = document.createElement("tr");
      const state = document.createElement("span");
      state.className = "badge " + ({ succeeded: "ok", failed: "error", running: "warn" }[r.state] || "");
      state.textContent = r.state;
      const stateCell = document.createElement("td");
      stateCell.append(state);
      tr.append(
        cell("#" + r.id), cell(r.version || "—"), stateCell, cell(r.stage || "—"),
        cell(Math.round(100 * (r.progress || 0)) + " %", "num"), cell(when(r.started_at)),
        cell(duration(r.duration_s), "num"), cell(r.error || "", "run-error"),
      );
      body.append(tr);
    }
  }

  // -- online figures and drift -----------------------------------------------------------
  function share(value) {
    return value === null || value === undefined ? "—" : (100 * value).toFixed(1) + " %";
  }

  function num(value, digits) {
    return value === null || value === undefined ? "—" : Number(value).toFixed(digits);
  }

  function renderAcceptance(online, serving) {
    const versions = online.versions || [];
    const row = versions.find((v) => v.version === serving) || versions[versions.length - 1];
    setText("acc-version", row ? "(" + row.version + ")" : "");
    setText("acc-rate", row ? share(row.acceptance_rate) : "—");
    setText("acc-decisions", row ? String(row.decisions) : "—");
    setText("acc-similarity", row ? num(row.mean_edit_similarity, 3) : "—");
    setText("acc-low", row ? share(row.low_share) + " / " + share(row.no_match_share) : "—");
    setText("acc-latency", row ? num(row.latency_ms_mean, 1) + " ms" : "—");
    renderOnlineTable(versions);
  }

  function renderOnlineTable(versions) {
    const body = $("online-table").tBodies[0];
    body.replaceChildren();
    if (!versions.length) {
      const tr = document.createElement("tr");
      const td = cell("No live figures yet.", "muted");
      td.colSpan = 8;
      tr.append(td);
      body.append(tr);
      return;
    }
    for (const v of versions) {
      const tr = document.createElement("tr");
      tr.append(cell(v.version), cell(String(v.answers), "num"), cell(share(v.low_share), "num"),
        cell(share(v.no_match_share), "num"), cell(num(v.latency_ms_mean, 1), "num"),
        cell(String(v.decisions), "num"), cell(share(v.acceptance_rate), "num"),
        cell(num(v.mean_edit_similarity, 3), "num"));
      body.append(tr);
    }
  }

  function renderOnlineChart(weeks) {
    const labels = Array.from(new Set(weeks.map((w) => w.week))).sort();
    const versions = Array.from(new Set(weeks.map((w) => w.version))).sort();
    const figures = { acceptance_rate: "acceptance", mean_edit_similarity: "edit similarity", low_share: "low confidence" };
    const series = [];
    for (const v of versions) {
      for (const [key, name] of Object.entries(figures)) {
        series.push({
          name: v + " " + name, type: key === "low_share" ? "line" : "bar", barMaxWidth: 24,
          data: labels.map((week) => {
            const row = weeks.find((w) => w.week === week && w.version === v);
            return row && row[key] !== null ? row[key] : null;
          }),
        });
      }
    }
    chart("chart-online").setOption({
      animation: false,
      grid: { left: 50, right: 16, top: 40, bottom: 40 },
      legend: { top: 0, type: "scroll" },
      tooltip: { trigger: "axis", valueFormatter: (value) => (value === null ? "—" : Number(value).toFixed(3)) },
      xAxis: { type: "category", data: labels },
      yAxis: { type: "value", min: 0, max: 1 },
      series,
      graphic: labels.length ? [] : [emptyGraphic("No predictions or saved routings logged yet")],
    }, { replaceMerge: ["series", "graphic"] });
  }

  function renderDrift(drift) {
    const warn = Boolean(drift && drift.warning);
    $("dash-drift").hidden = !warn;
    setText("drift-message", warn ? drift.message : "");
    setText("drift-state", !drift ? "—" : warn ? "warning" : drift.checked ? "none" : "not checked", drift ? drift.message : "");
  }

  // -- refresh loop -----------------------------------------------------------------------
  let timer = null;

  async function refresh() {
    clearTimeout(timer);
    try {
      const res = await consoleApi.fetch("/api/v1/dashboard-data");
      const body = await res.json().catch(() => ({}));
      if (!res.ok) throw new Error(body.detail || "HTTP " + res.status);
      $("dash-error").hidden = true;
      renderHealth(body.health || {});
      renderRequestCards(body.requests || {}, body.latency || {});
      renderLatency(body.latency || {});
      renderRequests(body.requests || {});
      renderTraining(body.training_runs || []);
      renderAcceptance(body.online || {}, (body.health || {}).serving_version);
      renderOnlineChart((body.online || {}).weeks || []);
      renderDrift(body.drift);
      setText("dash-updated", "Updated " + new Date().toLocaleTimeString() + " · refreshes every 5 s");
    } catch (err) {
      const box = $("dash-error");
      box.textContent = "Could not load the dashboard data: " + err.message;
      box.hidden = false;
    }
    if (!document.hidden) timer = setTimeout(refresh, REFRESH_MS);
  }

  document.addEventListener("visibilitychange", () => { if (!document.hidden) refresh(); });
  window.addEventListener("resize", () => Object.values(charts).forEach((c) => c.resize()));
  refresh();
})();
