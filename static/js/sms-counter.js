// Send SMS: a live count of the message's characters, SMS parts and credits as people type.
// The page gives the GSM 03.38 alphabet (read on the server from its codec) and the limits;
// the server counts again when the message is reviewed and sent: this is only a preview.
// No inline scripts: CSP.
(function () {
  "use strict";
  var form = document.getElementById("send-sms");
  if (!form) { return; }
  var text = form.querySelector("textarea[name='text']");
  var recipients = form.querySelector("textarea[name='recipients']");
  var output = document.getElementById("sms-counter");
  if (!text || !output) { return; }
  var basic = form.getAttribute("data-gsm-basic") || "";
  var extended = form.getAttribute("data-gsm-extended") || "";
  var limits = JSON.parse(form.getAttribute("data-limits") || "{}");
  var template = output.getAttribute("data-template") || "";
  var names = { gsm7: "GSM-7", ucs2: "UCS-2" };

  function count(value) {
    var septets = 0;
    for (var i = 0; i < value.length; i++) {
      var ch = value.charAt(i);
      if (basic.indexOf(ch) !== -1) { septets += 1; }
      else if (extended.indexOf(ch) !== -1) { septets += 2; }
      else { septets = -1; break; }
    }
    // UCS-2: UTF-16 code units, which is what a JavaScript string's length counts.
    var encoding = septets < 0 ? "ucs2" : "gsm7";
    var units = septets < 0 ? value.length : septets;
    var limit = limits[encoding] || [160, 153];
    var parts = units <= limit[0] ? 1 : Math.ceil(units / limit[1]);
    return { encoding: encoding, units: units, parts: parts };
  }

  function numbers() {
    if (!recipients) { return 1; }
    var seen = {};
    var total = 0;
    recipients.value.split(/[\r\n,;]+/).forEach(function (part) {
      var key = part.replace(/[\s().-]/g, "");
      if (key && !seen[key]) { seen[key] = true; total += 1; }
    });
    return total;
  }

  function render() {
    var counted = count(text.value.trim());
    var people = numbers();
    output.textContent = template
      .replace("{chars}", String(counted.units))
      .replace("{encoding}", names[counted.encoding])
      .replace("{parts}", String(counted.parts))
      .replace("{recipients}", String(people))
      .replace("{credits}", String(counted.parts * people));
    output.setAttribute("data-parts", String(counted.parts));
    output.setAttribute("data-credits", String(counted.parts * people));
  }

  text.addEventListener("input", render);
  if (recipients) { recipients.addEventListener("input", render); }
  render();
})();
