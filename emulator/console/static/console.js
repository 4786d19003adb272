// simgate console: live updates over server-sent events, and small conveniences.
// When the server says the data changed, the page fetches itself and swaps every
// element marked data-live (same id) for its new version: no reload, no lost typing.
"use strict";
(function () {
  const badge = document.getElementById("live");

  function version() {
    return document.body.dataset.version || "";
  }

  async function refresh(target) {
    const response = await fetch(window.location.href, { headers: { "Accept": "text/html" }, cache: "no-store" });
    if (!response.ok) { return; }
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    const active = document.activeElement;
    document.querySelectorAll("[data-live][id]").forEach(function (old) {
      if (active && old.contains(active) && active.matches("input, select, textarea")) { return; }
      const replacement = fresh.getElementById(old.id);
      if (replacement) { old.replaceWith(document.importNode(replacement, true)); }
    });
    const next = fresh.body.dataset.version || target;
    document.body.dataset.version = next;
    document.body.dataset.refreshed = String(Number(document.body.dataset.refreshed || "0") + 1);
  }

  // At most one refresh in flight and one a second: a busy fleet changes constantly.
  const SPACING_MS = 1000;
  let pending = null;
  let timer = null;
  let lastRefresh = 0;
  function changed(target) {
    if (document.body.hasAttribute("data-frozen")) { return; }  // a POST's answer page
    if (target === version() || pending || timer) { return; }
    const wait = lastRefresh + SPACING_MS - Date.now();
    if (wait > 0) {
      timer = window.setTimeout(function () { timer = null; changed(latest); }, wait);
      return;
    }
    lastRefresh = Date.now();
    pending = refresh(target).catch(function () { /* the next change tries again */ })
      .finally(function () { pending = null; if (latest !== version()) { changed(latest); } });
  }

  let latest = version();
  if (window.EventSource) {
    const source = new EventSource("/console/stream?since=" + encodeURIComponent(version()));
    source.addEventListener("open", function () { if (badge) { badge.classList.add("on"); } });
    source.addEventListener("error", function () { if (badge) { badge.classList.remove("on"); } });
    source.addEventListener("change", function (event) { latest = event.data; changed(event.data); });
  }

  const months = document.getElementById("month-select");
  if (months) {
    months.addEventListener("change", function () {
      window.location.href = "/console/invoices/" + encodeURIComponent(months.value);
    });
  }
})();
