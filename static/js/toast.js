/* Small notices in the corner of the editors.

     consoleToast("Saved routing #12", "success");
     consoleToast("Row 30: unknown work center 'WC-9'", "error");   // errors stay 8 s

   Needs an element with id "toasts" (aria-live) on the page. */
(function () {
  "use strict";

  const LIFETIME = { info: 4000, success: 4000, warning: 6000, error: 8000 };
  const MAX_SHOWN = 5;

  function consoleToast(message, kind) {
    const box = document.getElementById("toasts");
    if (!box) return;
    kind = kind || "info";
    const toast = document.createElement("div");
    toast.className = "toast toast-" + kind;
    toast.setAttribute("role", kind === "error" ? "alert" : "status");
    const text = document.createElement("span");
    text.textContent = message;
    const close = document.createElement("button");
    close.type = "button";
    close.className = "toast-close";
    close.setAttribute("aria-label", "Dismiss");
    close.textContent = "×";
    close.addEventListener("click", () => toast.remove());
    toast.append(text, close);
    box.append(toast);
    while (box.children.length > MAX_SHOWN) box.firstElementChild.remove();
    setTimeout(() => toast.remove(), LIFETIME[kind] || 5000);
    return toast;
  }

  window.consoleToast = consoleToast;
})();
