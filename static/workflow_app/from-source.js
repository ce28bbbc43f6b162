/* New profile from source (Django admin): says at once whether the profile JSON parses, and
   keeps the save button off while it does not. The server checks everything again. */
(function () {
  "use strict";

  function check(editor, status, save) {
    try {
      const value = JSON.parse(editor.value);
      if (value === null || typeof value !== "object" || Array.isArray(value)) {
        throw new Error("the profile must be a JSON object");
      }
      status.textContent = "The profile is valid JSON.";
      status.className = "json-status json-ok";
      save.disabled = false;
    } catch (err) {
      status.textContent = "Not valid JSON: " + err.message;
      status.className = "json-status json-error";
      save.disabled = true;
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    const editor = document.querySelector("#profile-form textarea.json-editor");
    const status = document.getElementById("json-status");
    const save = document.getElementById("save-button");
    if (!editor || !status || !save) {
      return;
    }
    editor.addEventListener("input", function () {
      check(editor, status, save);
    });
    check(editor, status, save);
  });
})();
