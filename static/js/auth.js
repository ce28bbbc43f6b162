/* The console's API calls: same-origin cookies, the CSRF header on unsafe methods, and one
   silent token refresh when the access cookie has expired.

     const res = await consoleApi.fetch("/api/v1/predict", {method: "POST", body: {items: [...]}});
     const data = await res.json();   // errors: {"error", "detail", "fields"}

   A 401 that survives the refresh sends the browser to the login page. */
(function () {
  "use strict";

  function cookie(name) {
    const found = document.cookie.split("; ").find((c) => c.startsWith(name + "="));
    return found ? decodeURIComponent(found.slice(name.length + 1)) : "";
  }

  function prepare(options) {
    const opts = Object.assign({ credentials: "same-origin" }, options || {});
    const headers = new Headers(opts.headers || {});
    headers.set("Accept", "application/json");
    if (opts.body !== undefined && !(opts.body instanceof FormData) && typeof opts.body !== "string") {
      opts.body = JSON.stringify(opts.body);
      headers.set("Content-Type", "application/json");
    }
    const method = (opts.method || "GET").toUpperCase();
    if (!["GET", "HEAD", "OPTIONS"].includes(method)) {
      headers.set("X-CSRFToken", cookie("csrftoken"));
    }
    opts.headers = headers;
    return opts;
  }

  let refreshing = null;
  function refresh() {
    // One refresh at a time: parallel calls share it (a refresh token is single-use).
    if (!refreshing) {
      refreshing = fetch("/api/v1/auth/refresh", prepare({ method: "POST" }))
        .then((res) => res.ok)
        .finally(() => { refreshing = null; });
    }
    return refreshing;
  }

  async function apiFetch(url, options) {
    let res = await fetch(url, prepare(options));
    if (res.status === 401 && (await refresh())) {
      res = await fetch(url, prepare(options));
    }
    if (res.status === 401) {
      window.location.assign("/login/?next=" + encodeURIComponent(window.location.pathname));
    }
    return res;
  }

  window.consoleApi = { fetch: apiFetch, cookie: cookie };
})();
