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
  document.addEventListener("htmx:responseError", function (e) { toast("The server answered " + e.detail.xhr.status + ". Try again.", "error"); });
  document.addEventListener("htmx:sendError", function () { toast("Cannot reach the server. Check your connection.", "error"); });
})();
