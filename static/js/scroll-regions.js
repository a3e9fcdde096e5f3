/* A table wider than the screen scrolls sideways inside the box that holds it
   (static/css/app.css). While it does, that box can be reached and scrolled from the
   keyboard (WCAG 2.1.1) and is named after its table for screen readers. */
(function () {
  "use strict";

  function nameOf(table) {
    var caption = table.querySelector("caption");
    if (caption && caption.textContent.trim()) {
      return {label: caption.textContent.trim()};
    }
    if (table.getAttribute("aria-labelledby")) {
      return {labelledby: table.getAttribute("aria-labelledby")};
    }
    if (table.getAttribute("aria-label")) {
      return {label: table.getAttribute("aria-label")};
    }
    return null;
  }

  function mark() {
    document.querySelectorAll("main table.table").forEach(function (table) {
      var box = table.parentElement;
      if (!box || box.tagName === "MAIN") {
        return;
      }
      var scrolls = box.scrollWidth > box.clientWidth + 1;
      var marked = box.hasAttribute("data-scroll-region");
      if (scrolls && !marked && !box.hasAttribute("tabindex")) {
        box.setAttribute("data-scroll-region", "");
        box.setAttribute("tabindex", "0");
        var name = nameOf(table);
        if (name) {
          box.setAttribute("role", "region");
          if (name.label) {
            box.setAttribute("aria-label", name.label);
          } else {
            box.setAttribute("aria-labelledby", name.labelledby);
          }
        }
      } else if (!scrolls && marked) {
        ["data-scroll-region", "tabindex", "role", "aria-label", "aria-labelledby"].forEach(
          function (attribute) { box.removeAttribute(attribute); }
        );
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", mark);
  } else {
    mark();
  }
  window.addEventListener("resize", mark);
})();
