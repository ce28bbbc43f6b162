/* Small DOM and fetch helpers shared by the console's editors.

     const { el, fmt, readJson, detailOf } = consoleDom;
     el("button", { type: "button", class: "button", text: "Save", disabled: !canSave });
     fmt(1234.567, 1)   // "1,234.6" in the browser's locale
*/
(function () {
  "use strict";

  /** An element with attributes (non-text values set as properties) and children. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      // through the CSSOM: a style attribute is inline style, which the CSP refuses
      else if (k === "style") node.style.cssText = v;
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

  async function readJson(res) {
    try { return await res.json(); } catch (e) { return {}; }
  }

  /** The API's error sentence ({"error", "detail", "fields"}), or the HTTP status. */
  function detailOf(res, data) {
    if (data && data.detail) return typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail);
    return "HTTP " + res.status;
  }

  window.consoleDom = { el, fmt, readJson, detailOf };
})();
