// API tokens: <button data-copy-token="#id"> copies that element's text (the new token, the curl line).
// Loaded by the page that shows a new token; htmx may run it again on a later visit, so it binds once.
(function () {
  if (window.ispTokensBound) return;
  window.ispTokensBound = true;
  function feedback(button, ok) {
    var label = button.getAttribute("data-label") || button.textContent;
    button.setAttribute("data-label", label);
    button.textContent = ok ? "Copied" : "Select the text and copy it";
    button.setAttribute("data-copied", ok ? "yes" : "no");
    setTimeout(function () { button.textContent = label; }, 2000);
  }
  function selectText(source) {
    var range = document.createRange(); range.selectNodeContents(source);
    var selection = window.getSelection(); selection.removeAllRanges(); selection.addRange(range);
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-token]");
    if (!button) return;
    var source = document.querySelector(button.getAttribute("data-copy-token"));
    if (!source) return;
    var text = source.textContent.trim();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { feedback(button, true); }, function () {
        selectText(source); feedback(button, false);
      });
      return;
    }
    // Plain-http panels have no Clipboard API: select the text and use the legacy copy command.
    selectText(source);
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    feedback(button, ok);
  });
})();
