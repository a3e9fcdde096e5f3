// Print report: the button opens the browser's print dialog. No inline scripts: CSP.
(function () {
  "use strict";
  var button = document.getElementById("print-report");
  if (!button) { return; }
  button.addEventListener("click", function () { window.print(); });
})();
