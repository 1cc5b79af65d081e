// Staff console behaviour that htmx doesn't cover: the home page's growth
// chart (uPlot), drawn from the data-series attribute of each .chart
// element. The table beside it holds the same figures for screen readers
// and for browsers without scripts.
(function () {
  "use strict";
  function draw(el) {
    var d;
    try { d = JSON.parse(el.getAttribute("data-series")); } catch (e) { return; }
    if (!d || !d.weeks || !d.weeks.length || typeof uPlot === "undefined") { return; }
    var width = Math.max(280, el.clientWidth);
    var opts = {
      width: width,
      height: 240,
      series: [
        {},
        { label: "Signups", stroke: "#1f5fbf", width: 2 },
        { label: "Confirmations", stroke: "#1e6b3a", width: 2 },
        { label: "Unsubscribes", stroke: "#a3161b", width: 2 }
      ],
      axes: [{}, { size: 50 }],
      scales: { x: { time: true } }
    };
    el.textContent = "";
    var u = new uPlot(opts, [d.weeks, d.signups, d.confirmations, d.unsubscribes], el);
    // Keep to the page's width when the window (or a phone) turns.
    window.addEventListener("resize", function () {
      u.setSize({ width: Math.max(280, el.clientWidth), height: 240 });
    });
  }
  function init() {
    var els = document.querySelectorAll(".chart[data-series]");
    for (var i = 0; i < els.length; i++) { draw(els[i]); }
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
