// Draws the overview's charts with Chart.js from the JSON the page carries.
// Labels come from traffic (host names): Chart.js draws them on a canvas as text.
(function () {
  "use strict";
  var node = document.getElementById("chart-data");
  if (!node || typeof Chart === "undefined") { return; }
  var data = JSON.parse(node.textContent);
  var colors = { block: "#c0392b", mask: "#d68910" };
  function bar(id, series, opts) {
    var canvas = document.getElementById(id);
    if (!canvas || !series || !series.labels.length) { return; }
    var sets = [];
    ["block", "mask"].forEach(function (k) {
      if (series[k]) {
        sets.push({ label: data.labels[k], data: series[k], backgroundColor: colors[k] });
      }
    });
    new Chart(canvas, {
      type: "bar",
      data: { labels: series.labels, datasets: sets },
      options: Object.assign({
        responsive: true, maintainAspectRatio: false, animation: false,
        // Counts: whole numbers only on the value axis (no 0.2 ticks for small counts).
        scales: {
          x: { stacked: true, beginAtZero: true, ticks: { precision: 0 } },
          y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } }
        }
      }, opts || {})
    });
  }
  bar("chart-categories", data.categories);
  bar("chart-hosts", data.hosts, { indexAxis: "y" });
  bar("chart-daily", data.daily);
  bar("chart-clients", data.clients, { indexAxis: "y" });
}());
