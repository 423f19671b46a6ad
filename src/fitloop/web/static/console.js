// fitloop console: draws the Plotly charts embedded as JSON and makes segment bubbles clickable.
(function () {
  "use strict";
  function draw() {
    if (!window.Plotly) { return; }
    document.querySelectorAll("[data-fig]").forEach(function (el) {
      var fig = JSON.parse(el.getAttribute("data-fig"));
      window.Plotly.newPlot(el, fig.data, fig.layout, { displayModeBar: false, responsive: true });
      if (el.hasAttribute("data-link-prefix")) {
        el.on("plotly_click", function (ev) {
          var id = ev.points && ev.points[0] && ev.points[0].customdata;
          if (id) { window.location.href = el.getAttribute("data-link-prefix") + encodeURIComponent(id); }
        });
      }
      el.setAttribute("data-drawn", "1");
    });
  }
  // Show/hide form fields that only apply to some choices (e.g. "days" for a new-arrival boost).
  function toggles() {
    document.querySelectorAll("[data-show-when]").forEach(function (el) {
      var spec = el.getAttribute("data-show-when").split("=");
      var src = document.getElementById(spec[0]);
      if (!src) { return; }
      var update = function () { el.hidden = spec[1].split("|").indexOf(src.value) < 0; };
      src.addEventListener("change", update);
      update();
    });
  }
  document.addEventListener("DOMContentLoaded", function () { draw(); toggles(); });
})();
