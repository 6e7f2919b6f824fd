// Toasts: fade flashed messages, and show {"showToast": {"message", "level"}} from HX-Trigger.
(function () {
  function fade(el) { setTimeout(function () { el.classList.add("hide"); setTimeout(function () { el.remove(); }, 500); }, 4500); }
  function toast(message, level) {
    var box = document.getElementById("toasts"); if (!box) return;
    var el = document.createElement("div");
    el.className = "toast toast-" + (level || "info"); el.setAttribute("role", "status");
    el.textContent = message; box.appendChild(el); fade(el);
  }
  document.addEventListener("DOMContentLoaded", function () { document.querySelectorAll(".toast").forEach(fade); });
  document.addEventListener("htmx:load", function (e) { if (e.target.classList && e.target.classList.contains("toast")) fade(e.target); });
  document.addEventListener("showToast", function (e) { toast(e.detail.message || e.detail.value, e.detail.level); });
  document.addEventListener("htmx:afterSwap", function () {
    var t = document.getElementById("nav-toggle"); if (t) t.checked = false;
    document.querySelectorAll("#toasts .toast:not(.hide)").forEach(function (el) { if (!el.dataset.f) { el.dataset.f = 1; fade(el); } });
  });
  // A polling panel keeps its last good content when a poll fails: mark it stale instead of toasting every few seconds.
  function polling(e) { var el = e.detail && e.detail.elt; return el && el.closest && el.closest("[data-poll]"); }
  document.addEventListener("htmx:responseError", function (e) {
    var p = polling(e); if (p) { p.classList.add("poll-stale"); return; }
    toast("The server answered " + e.detail.xhr.status + ". Try again.", "error");
  });
  document.addEventListener("htmx:sendError", function (e) {
    var p = polling(e); if (p) { p.classList.add("poll-stale"); return; }
    toast("Cannot reach the server. Check your connection.", "error");
  });
  document.addEventListener("htmx:afterRequest", function (e) {
    var p = polling(e); if (p && e.detail.successful) p.classList.remove("poll-stale");
  });
  // Router form: switch between the plain and TLS API ports while the port is still a default.
  document.addEventListener("change", function (e) {
    if (e.target.name !== "use_tls" || !e.target.closest("[data-router-form]")) return;
    var port = e.target.form.elements.api_port;
    if (port && (port.value === "8728" || port.value === "8729" || port.value === "")) port.value = e.target.checked ? "8729" : "8728";
  });
})();

// Select every voucher checkbox on the page; ask before destructive bulk actions.
document.addEventListener("change", function (event) {
  var all = event.target.closest("[data-select-all]");
  if (!all) return;
  document.querySelectorAll('input[name="ids"][form="bulk-form"]').forEach(function (box) { box.checked = all.checked; });
});
document.addEventListener("submit", function (event) {
  var form = event.target;
  var action = form.querySelector('select[name="action"]');
  if (action && action.value === "delete" && !window.confirm("Delete these vouchers from the panel and the router?")) {
    event.preventDefault();
  }
}, true);

// Print buttons on the voucher sheets and money documents: <button data-print> (no inline onclick under the CSP).
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-print]");
  if (button && !button.disabled) window.print();
});

// htmx runs no <script> it swaps in (allowScriptTags: false drops them). A page reached by a boosted link may still
// need its own files from /static/ (the router graphs, copy buttons): read their addresses from the response before
// the swap (DOMParser runs nothing) and load each file once, in page order, after it.
(function () {
  var loaded = {}, pending = [];
  function path(src) { var a = document.createElement("a"); a.href = src; return a.origin === location.origin ? a.pathname : ""; }
  Array.prototype.forEach.call(document.scripts, function (s) { if (s.src) loaded[path(s.src)] = true; });
  document.addEventListener("htmx:beforeSwap", function (e) {
    var text = e.detail.serverResponse;
    if (!e.detail.shouldSwap || typeof text !== "string" || text.indexOf("<script") < 0) return;
    var doc = new DOMParser().parseFromString(text, "text/html");
    Array.prototype.forEach.call(doc.querySelectorAll("script[src]"), function (s) {
      var p = path(s.getAttribute("src"));
      if (p && p.indexOf("/static/") === 0 && !loaded[p]) { loaded[p] = true; pending.push(p); }
    });
  });
  document.addEventListener("htmx:afterSettle", function () {
    pending.splice(0).forEach(function (p) {
      var s = document.createElement("script");
      s.src = p; s.async = false;  // in order: uPlot before graphs.js
      document.head.appendChild(s);
    });
  });
})();
