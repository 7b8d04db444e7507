/* The admin's charts (the reports, the collections overview): each drawn by Chart.js
   (static/vendor) from the series the page carries as JSON (Django's json_script), beside
   the same figures as a table. */
(function () {
  "use strict";
  var palette = ["#417690", "#e0a100", "#5b9a68", "#c0504d", "#8064a2", "#4bacc6", "#7f7f7f"];
  document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
    var spec = JSON.parse(document.getElementById(canvas.dataset.chart).textContent);
    var percent = spec.percent;
    var value = spec.horizontal ? "x" : "y";
    var label = spec.horizontal ? "y" : "x";
    var scales = {};
    scales[label] = { stacked: spec.stacked };
    scales[value] = {
      stacked: spec.stacked,
      beginAtZero: true,
      max: percent ? 100 : undefined,
      ticks: { precision: 0, callback: function (v) { return percent ? v + "%" : v; } },
    };
    new window.Chart(canvas, {
      type: spec.kind,
      data: {
        labels: spec.labels,
        datasets: spec.series.map(function (series, n) {
          var colour = palette[n % palette.length];
          return {
            label: series.name,
            data: series.values,
            backgroundColor: colour,
            borderColor: colour,
            spanGaps: true,
          };
        }),
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        indexAxis: spec.horizontal ? "y" : "x",
        scales: scales,
        plugins: { legend: { display: !spec.horizontal, position: "bottom" } },
        // A bar with a link (a bucket, an agent) opens the queue filtered by it.
        onClick: function (event, elements) {
          var link = elements.length && spec.links[elements[0].index];
          if (link) { window.location.href = link; }
        },
      },
    });
  });
})();
