/* A small dependency-free node graph editor: HTML nodes over an SVG edge layer.

     const editor = GraphEditor.create({
       stage, edgeLayer,                        // the positioned <div> and the SVG <g> for edges
       colorOf: (type) => "#1f5f99",
       summaryOf: (node) => "M 16 · ef 120",
       onSelect: (sel) => {},                   // {node: id} | {edge: index} | null
       onChange: (what) => {},                  // "move" | "connect" | "disconnect"
     });
     editor.load({nodes: [{id, type, settings, position: {x, y}}], edges: [{from, to}]});

   Nodes move by dragging (pointer events, snapped to a 10 px grid) or with the arrow keys when
   focused. A connection starts on a node's round handle and ends on the node clicked next; a
   dashed line follows the pointer meanwhile. The graph object is edited in place. */
(function () {
  "use strict";

  const NODE_W = 150;
  const NODE_H = 64;
  const GRID = 10;

  function snap(v) {
    return Math.max(0, Math.round(v / GRID) * GRID);
  }

  function create(options) {
    const { stage, edgeLayer } = options;
    const canvas = stage.parentElement;
    // The stage is the scroll sizer; the world inside it holds the edges and the nodes and is
    // scaled with a CSS transform (zoom), so node positions stay in graph units.
    const world = document.createElement("div");
    world.className = "bp-world";
    world.append(...stage.childNodes);
    stage.append(world);
    let scale = 1;
    let graph = { nodes: [], edges: [] };
    let selection = null;
    let connectFrom = null;
    let preview = null;
    let errors = { nodes: {}, edges: new Set() };
    const nodeEls = new Map();

    function nodeById(id) {
      return graph.nodes.find((n) => n.id === id);
    }

    function size(id) {
      const el = nodeEls.get(id);
      return el ? { w: el.offsetWidth, h: el.offsetHeight } : { w: NODE_W, h: NODE_H };
    }

    function ensurePositions() {
      graph.nodes.forEach((n, i) => {
        if (!n.position || typeof n.position.x !== "number" || typeof n.position.y !== "number") {
          n.position = { x: 40 + (i % 5) * 220, y: 460 + Math.floor(i / 5) * 110 };
        }
      });
    }

    function extent() {
      let w = 0, h = 0;
      for (const n of graph.nodes) {
        w = Math.max(w, n.position.x + NODE_W);
        h = Math.max(h, n.position.y + NODE_H);
      }
      return { w, h };
    }

    function resizeStage() {
      const e = extent();
      const w = Math.max(e.w + 200, canvas.clientWidth / scale);
      const h = Math.max(e.h + 160, canvas.clientHeight / scale);
      world.style.width = w + "px";
      world.style.height = h + "px";
      world.style.transform = "scale(" + scale + ")";
      stage.style.width = w * scale + "px";
      stage.style.height = h * scale + "px";
    }

    function setScale(value) {
      scale = Math.min(1.5, Math.max(0.4, Math.round(value * 100) / 100));
      resizeStage();
      options.onZoom && options.onZoom(scale);
    }

    /** Zoom so that the whole graph fits the canvas width (never above 100 %). */
    function fit() {
      const e = extent();
      setScale(e.w ? Math.min(1, (canvas.clientWidth - 30) / (e.w + 30)) : 1);
    }

    // -- nodes -----------------------------------------------------------------------------
    function buildNode(node) {
      const el = document.createElement("div");
      el.className = "bp-node";
      el.tabIndex = 0;
      el.dataset.id = node.id;
      el.setAttribute("role", "button");
      el.style.setProperty("--node-color", options.colorOf(node.type));
      const type = document.createElement("div");
      type.className = "node-type";
      type.textContent = node.type;
      const id = document.createElement("div");
      id.className = "node-id";
      id.textContent = node.id;
      const summary = document.createElement("div");
      summary.className = "node-summary";
      const port = document.createElement("button");
      port.type = "button";
      port.className = "bp-port";
      port.title = "Connect from " + node.id + " (then click the target node)";
      port.setAttribute("aria-label", "Connect from " + node.id);
      el.append(type, id, summary, port);
      el.addEventListener("pointerdown", (e) => startDrag(e, node, el));
      el.addEventListener("keydown", (e) => nodeKey(e, node));
      port.addEventListener("pointerdown", (e) => e.stopPropagation());
      port.addEventListener("click", (e) => { e.stopPropagation(); startConnect(node.id); });
      world.append(el);
      nodeEls.set(node.id, el);
      return el;
    }

    function paintNode(node) {
      const el = nodeEls.get(node.id) || buildNode(node);
      el.style.left = node.position.x + "px";
      el.style.top = node.position.y + "px";
      const summary = options.summaryOf(node);
      el.querySelector(".node-summary").textContent = summary;
      el.querySelector(".node-summary").title = summary; // the box cuts long settings
      el.querySelector(".node-id").title = node.id;
      const problems = errors.nodes[node.id] || [];
      el.classList.toggle("in-error", problems.length > 0);
      el.classList.toggle("selected", Boolean(selection && selection.node === node.id));
      el.classList.toggle("connect-from", connectFrom === node.id);
      el.setAttribute("aria-label", node.type + " node " + node.id + (problems.length ? ", " + problems.length + " problem(s)" : ""));
      let badge = el.querySelector(".node-errors");
      if (problems.length) {
        if (!badge) {
          badge = document.createElement("span");
          badge.className = "badge error node-errors";
          el.append(badge);
        }
        badge.textContent = String(problems.length);
        badge.title = problems.join("\n");
      } else if (badge) {
        badge.remove();
      }
    }

    function nodeKey(e, node) {
      const moves = { ArrowLeft: [-GRID, 0], ArrowRight: [GRID, 0], ArrowUp: [0, -GRID], ArrowDown: [0, GRID] };
      if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        if (connectFrom && connectFrom !== node.id) finishConnect(node.id);
        else select({ node: node.id });
      } else if (moves[e.key]) {
        e.preventDefault();
        node.position.x = snap(node.position.x + moves[e.key][0]);
        node.position.y = snap(node.position.y + moves[e.key][1]);
        paintNode(node);
        drawEdges();
        options.onChange("move");
      }
    }

    function startDrag(e, node, el) {
      if (e.button !== 0) return;
      if (connectFrom) {
        e.preventDefault();
        if (connectFrom !== node.id) finishConnect(node.id);
        return;
      }
      const start = { x: e.clientX, y: e.clientY, nx: node.position.x, ny: node.position.y };
      let moved = false;
      el.setPointerCapture(e.pointerId);
      function move(ev) {
        const dx = (ev.clientX - start.x) / scale, dy = (ev.clientY - start.y) / scale;
        if (!moved && Math.abs(dx) + Math.abs(dy) < 4) return;
        moved = true;
        el.classList.add("dragging");
        node.position.x = snap(start.nx + dx);
        node.position.y = snap(start.ny + dy);
        el.style.left = node.position.x + "px";
        el.style.top = node.position.y + "px";
        drawEdges();
      }
      function up() {
        el.removeEventListener("pointermove", move);
        el.removeEventListener("pointerup", up);
        el.removeEventListener("pointercancel", up);
        el.classList.remove("dragging");
        if (moved) {
          resizeStage();
          options.onChange("move");
        }
        select({ node: node.id });
      }
      el.addEventListener("pointermove", move);
      el.addEventListener("pointerup", up);
      el.addEventListener("pointercancel", up);
    }

    // -- edges -----------------------------------------------------------------------------
    function anchor(id, side) {
      const n = nodeById(id);
      const s = size(id);
      return { x: n.position.x + (side === "out" ? s.w : 0), y: n.position.y + s.h / 2 };
    }

    function curve(a, b) {
      const bend = Math.max(40, Math.abs(b.x - a.x) / 2);
      return "M " + a.x + " " + a.y + " C " + (a.x + bend) + " " + a.y + ", " + (b.x - bend) + " " + b.y + ", " + b.x + " " + b.y;
    }

    /** An edge's path: side to side when the target is to the right, else bottom to top (or
        top to bottom), so a line back to the left does not loop through the nodes. */
    function edgePath(from, to) {
      const a = anchor(from, "out"), b = anchor(to, "in");
      if (b.x >= a.x + 20) return curve(a, b);
      const fn = nodeById(from), tn = nodeById(to), fs = size(from), ts = size(to);
      const down = tn.position.y > fn.position.y + fs.h;
      const up = tn.position.y + ts.h < fn.position.y;
      if (!down && !up) { // same row: dip under both nodes
        const p = { x: fn.position.x + fs.w / 2, y: fn.position.y + fs.h };
        const q = { x: tn.position.x + ts.w / 2, y: tn.position.y + ts.h };
        const low = Math.max(p.y, q.y) + 50;
        return "M " + p.x + " " + p.y + " C " + p.x + " " + low + ", " + q.x + " " + low + ", " + q.x + " " + q.y;
      }
      const p = { x: fn.position.x + fs.w / 2, y: down ? fn.position.y + fs.h : fn.position.y };
      const q = { x: tn.position.x + ts.w / 2, y: down ? tn.position.y : tn.position.y + ts.h };
      const bend = Math.max(30, Math.abs(q.y - p.y) / 2) * (down ? 1 : -1);
      return "M " + p.x + " " + p.y + " C " + p.x + " " + (p.y + bend) + ", " + q.x + " " + (q.y - bend) + ", " + q.x + " " + q.y;
    }

    function svg(tag, attrs) {
      const el = document.createElementNS(edgeLayer.namespaceURI, tag); // the SVG namespace
      for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
      return el;
    }

    function drawEdges() {
      edgeLayer.replaceChildren();
      graph.edges.forEach((edge, i) => {
        if (!nodeById(edge.from) || !nodeById(edge.to)) return;
        const d = edgePath(edge.from, edge.to);
        const selected = selection && selection.edge === i;
        const cls = (selected ? "selected " : "") + (errors.edges.has(i) ? "in-error" : "");
        edgeLayer.append(svg("path", { d, class: cls.trim(), "marker-end": selected ? "url(#bp-arrow-selected)" : "url(#bp-arrow)", "data-edge": i }));
        const hit = svg("path", { d, class: "hit", "data-edge": i });
        const title = svg("title", {});
        title.textContent = edge.from + " → " + edge.to + " (click to select)";
        hit.append(title);
        hit.addEventListener("click", (e) => { e.stopPropagation(); select({ edge: i }); });
        edgeLayer.append(hit);
      });
      if (preview) edgeLayer.append(svg("path", { d: curve(anchor(connectFrom, "out"), preview), class: "preview" }));
    }

    function startConnect(id) {
      connectFrom = id;
      preview = null;
      canvas.classList.add("connecting");
      render();
      options.onConnecting && options.onConnecting(id);
    }

    function cancelConnect() {
      if (!connectFrom) return;
      connectFrom = null;
      preview = null;
      canvas.classList.remove("connecting");
      render();
      options.onConnecting && options.onConnecting(null);
    }

    function finishConnect(to) {
      const from = connectFrom;
      cancelConnect();
      connect(from, to);
    }

    /** Add from → to; returns "" or why it was not added. */
    function connect(from, to) {
      if (!nodeById(from) || !nodeById(to)) return "unknown node";
      if (from === to) return "a node cannot feed itself";
      if (graph.edges.some((e) => e.from === from && e.to === to)) return from + " → " + to + " exists already";
      graph.edges.push({ from, to });
      select({ edge: graph.edges.length - 1 });
      options.onChange("connect");
      return "";
    }

    function disconnect(index) {
      if (index < 0 || index >= graph.edges.length) return;
      graph.edges.splice(index, 1);
      select(null);
      options.onChange("disconnect");
    }

    // -- selection and whole-graph operations ------------------------------------------------
    function select(sel) {
      selection = sel;
      render();
      options.onSelect(sel);
    }

    function render() {
      for (const [id, el] of nodeEls) {
        if (!nodeById(id)) { el.remove(); nodeEls.delete(id); }
      }
      graph.nodes.forEach(paintNode);
      drawEdges();
    }

    function load(newGraph) {
      graph = newGraph;
      graph.nodes = Array.isArray(graph.nodes) ? graph.nodes : [];
      graph.edges = Array.isArray(graph.edges) ? graph.edges : [];
      for (const el of nodeEls.values()) el.remove();
      nodeEls.clear();
      selection = null;
      connectFrom = null;
      errors = { nodes: {}, edges: new Set() };
      ensurePositions();
      render();
      fit();
      drawEdges(); // again, now that the nodes have their real sizes
    }

    function setErrors(next) {
      errors = { nodes: next.nodes || {}, edges: next.edges || new Set() };
      render();
    }

    canvas.addEventListener("pointermove", (e) => {
      if (!connectFrom) return;
      const box = world.getBoundingClientRect();
      preview = { x: (e.clientX - box.left) / scale, y: (e.clientY - box.top) / scale };
      drawEdges();
    });
    canvas.addEventListener("click", (e) => {
      const empty = e.target === canvas || e.target === stage || e.target === world;
      if (empty || (e.target.closest("svg") && !e.target.closest(".hit"))) {
        if (connectFrom) cancelConnect();
        else if (selection) select(null);
      }
    });
    document.addEventListener("keydown", (e) => {
      if (e.key === "Escape") cancelConnect();
      const typing = e.target.closest && e.target.closest("input, textarea, select");
      if ((e.key === "Delete" || e.key === "Backspace") && !typing && selection && selection.edge !== undefined) {
        e.preventDefault();
        disconnect(selection.edge);
      }
    });
    window.addEventListener("resize", resizeStage);

    return {
      load, render, select, connect, disconnect, setErrors, startConnect, cancelConnect, resizeStage, fit,
      zoom: (factor) => setScale(scale * factor),
      get graph() { return graph; },
      get selection() { return selection; },
    };
  }

  window.GraphEditor = { create };
})();
