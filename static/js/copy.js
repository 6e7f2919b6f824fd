// Copy buttons: <button data-copy="#element-id"> copies that element's text (the router setup script, the hub peer).
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-copy]");
  if (!button) return;
  var source = document.querySelector(button.getAttribute("data-copy"));
  if (!source) return;
  var text = source.textContent, label = button.textContent;
  function done(ok) {
    button.textContent = ok ? "Copied" : "Select the text and copy it";
    setTimeout(function () { button.textContent = label; }, 2000);
  }
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(function () { done(true); }, function () { done(false); });
    return;
  }
  // Plain-http panels have no Clipboard API: select the text and use the legacy copy command.
  var range = document.createRange(); range.selectNodeContents(source);
  var selection = window.getSelection(); selection.removeAllRanges(); selection.addRange(range);
  var ok = false;
  try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
  done(ok);
});
