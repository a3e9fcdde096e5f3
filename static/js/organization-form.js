// Create organization: when the country changes, propose its currency and timezone
// (the server applies the same defaults when they are left empty). No inline scripts: CSP.
(function () {
  "use strict";
  var form = document.getElementById("create-organization");
  if (!form) { return; }
  var defaults = JSON.parse(form.getAttribute("data-country-defaults") || "{}");
  var country = form.querySelector("select[name='country']");
  var currency = form.querySelector("select[name='currency']");
  var timezone = form.querySelector("select[name='timezone']");
  if (!country || !currency || !timezone) { return; }
  var proposed = { currency: currency.value, timezone: timezone.value };

  function propose(select, key, value) {
    // Only replace a value the person has not chosen themselves.
    if (select.value === "" || select.value === proposed[key]) {
      if (value && select.querySelector("option[value='" + value + "']")) {
        select.value = value;
        proposed[key] = value;
      }
    }
  }

  country.addEventListener("change", function () {
    var pair = defaults[country.value] || ["", ""];
    propose(currency, "currency", pair[0]);
    propose(timezone, "timezone", pair[1]);
  });
})();
