// Lifecycle dashboard: wires the vendored Chart.js to the canvases the
// server renders. No drawing of our own: the charts are Chart.js's. Loaded
// with defer, so the DOM and the libraries are ready when it runs.
(function () {
  "use strict";
  // Health colours and point shapes: the shape repeats the health, so the
  // chart does not rely on colour alone.
  var HEALTH = {
    red: { color: "#b91c1c", shape: "rect" },
    yellow: { color: "#d97706", shape: "triangle" },
    green: { color: "#15803d", shape: "circle" },
    "": { color: "#64748b", shape: "crossRot" }
  };

  // scoreTicks puts a score axis's ticks on 0, 10, ... 100, whatever the
  // padding past the ends.
  function scoreTicks(axis) {
    axis.ticks = [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100].map(function (v) { return { value: v }; });
  }

  function quadrant(canvas) {
    var status = document.getElementById("quadrant-status");
    fetch(canvas.dataset.src, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(new Error("HTTP " + r.status)); })
      .then(function (data) {
        var groups = {};
        data.points.forEach(function (p) {
          var h = HEALTH[p.health] ? p.health : "";
          (groups[h] = groups[h] || []).push({ x: p.e, y: p.h, id: p.id });
        });
        var order = ["red", "yellow", "green", ""].filter(function (h) { return groups[h]; });
        var datasets = order.map(function (h) {
          return {
            label: h || "not scored", data: groups[h], pointStyle: HEALTH[h].shape,
            backgroundColor: HEALTH[h].color, borderColor: HEALTH[h].color, pointRadius: 5, pointHoverRadius: 8
          };
        });
        var chart = new Chart(canvas, {
          type: "scatter",
          data: { datasets: datasets },
          options: {
            animation: false, maintainAspectRatio: false,
            scales: {
              // A little room past 0 and 100, so points on the edges stay whole.
              x: { min: -3, max: 103, afterBuildTicks: scoreTicks, title: { display: true, text: "engagement" } },
              y: { min: -3, max: 103, afterBuildTicks: scoreTicks, title: { display: true, text: "happiness" } }
            },
            plugins: {
              legend: { labels: { usePointStyle: true } },
              tooltip: { callbacks: { label: function (ctx) {
                var p = ctx.raw; return p.id + ": engagement " + p.x + ", happiness " + p.y + " (" + ctx.dataset.label + ")";
              } } }
            },
            onHover: function (e, els) { canvas.style.cursor = els.length ? "pointer" : "default"; },
            onClick: function (e, els) {
              if (!els.length) { return; }
              var p = chart.data.datasets[els[0].datasetIndex].data[els[0].index];
              window.location.href = "/ui/customers/" + encodeURIComponent(p.id);
            }
          },
          plugins: [thresholds]
        });
        if (status) {
          status.textContent = data.points.length + " customers" + (data.truncated ? " (first 10,000)" : "") + ".";
        }
      })
      .catch(function (err) { if (status) { status.textContent = "Chart unavailable: " + err.message; } });
  }

  // thresholds draws the quadrant lines (engaged at 50, happy at 60) with
  // Chart.js's own canvas context, after the datasets.
  var thresholds = {
    id: "thresholds",
    afterDatasetsDraw: function (chart) {
      var x = chart.scales.x, y = chart.scales.y, ctx = chart.ctx;
      ctx.save();
      ctx.strokeStyle = "#94a3b8"; ctx.setLineDash([4, 4]);
      ctx.beginPath();
      ctx.moveTo(x.getPixelForValue(50), y.top); ctx.lineTo(x.getPixelForValue(50), y.bottom);
      ctx.moveTo(x.left, y.getPixelForValue(60)); ctx.lineTo(x.right, y.getPixelForValue(60));
      ctx.stroke();
      ctx.fillStyle = "#475569"; ctx.font = "12px system-ui, sans-serif";
      ctx.fillText("champion", x.right - 62, y.top + 14);
      ctx.fillText("vocal", x.right - 62, y.bottom - 6);
      ctx.fillText("quiet", x.left + 6, y.top + 14);
      ctx.fillText("at-risk", x.left + 6, y.bottom - 6);
      ctx.restore();
    }
  };

  var KIND_COLORS = {
    event: "#2563eb", outcome: "#15803d", complaint: "#b91c1c",
    touchpoint: "#7c3aed", task: "#d97706", escalation: "#0f172a"
  };

  function activity(canvas) {
    var old = Chart.getChart(canvas);
    if (old) { old.destroy(); }
    var data = JSON.parse(canvas.dataset.chart);
    new Chart(canvas, {
      type: "bar",
      data: {
        labels: data.days.map(function (d) { return "day " + d; }),
        datasets: data.series.map(function (s) {
          return { label: s.kind, data: s.counts, backgroundColor: KIND_COLORS[s.kind] || "#64748b", stack: "kinds" };
        })
      },
      options: {
        animation: false, maintainAspectRatio: false,
        scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: "entries" } } },
        plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } }
      }
    });
  }

  function scores(canvas) {
    var old = Chart.getChart(canvas);
    if (old) { old.destroy(); }
    var data = JSON.parse(canvas.dataset.chart);
    new Chart(canvas, {
      type: "line",
      data: {
        labels: data.days.map(function (d) { return "day " + d; }),
        datasets: [
          { label: "engagement", data: data.engagement, borderColor: "#2563eb", backgroundColor: "#2563eb", tension: 0.2 },
          { label: "happiness", data: data.happiness, borderColor: "#15803d", backgroundColor: "#15803d", borderDash: [6, 3], tension: 0.2 }
        ]
      },
      options: {
        animation: false, maintainAspectRatio: false,
        scales: { y: { min: 0, max: 100 } },
        plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } }
      }
    });
  }

  // The playbook lab: engagement and happiness of the version tried, and
  // (dashed, lighter) of the one it is compared with.
  function lab(canvas) {
    var old = Chart.getChart(canvas);
    if (old) { old.destroy(); }
    var data = JSON.parse(canvas.dataset.chart);
    var sets = [
      { label: "engagement", data: data.engagement, borderColor: "#2563eb", backgroundColor: "#2563eb", pointRadius: 0, tension: 0.2 },
      { label: "happiness", data: data.happiness, borderColor: "#15803d", backgroundColor: "#15803d", pointRadius: 0, tension: 0.2 }
    ];
    if (data.old_engagement) {
      sets.push({ label: "engagement (compared)", data: data.old_engagement, borderColor: "#93c5fd", backgroundColor: "#93c5fd", borderDash: [6, 3], pointRadius: 0, tension: 0.2 });
      sets.push({ label: "happiness (compared)", data: data.old_happiness, borderColor: "#86efac", backgroundColor: "#86efac", borderDash: [6, 3], pointRadius: 0, tension: 0.2 });
    }
    new Chart(canvas, {
      type: "line",
      data: { labels: data.days.map(function (d) { return "day " + d; }), datasets: sets },
      options: {
        animation: false, maintainAspectRatio: false,
        scales: { y: { min: 0, max: 100 } },
        plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } }
      }
    });
    canvas.dataset.drawn = "true";
  }

  // The insights page: how often green accounts and the others did each
  // thing, as horizontal bars in the run's order (claimed first). Claimed
  // differences are solid and marked with a tick in their label; the
  // others lighter, so the colour is not the only sign.
  function differences(canvas) {
    var old = Chart.getChart(canvas);
    if (old) { old.destroy(); }
    var data = JSON.parse(canvas.dataset.chart);
    var bars = data.bars;
    canvas.parentNode.style.height = Math.max(160, bars.length * 34 + 70) + "px";
    var shade = function (solid, light) { return bars.map(function (b) { return b.claimed ? solid : light; }); };
    new Chart(canvas, {
      type: "bar",
      data: {
        labels: bars.map(function (b) { return (b.claimed ? "\u2714 " : "") + b.text; }),
        datasets: [
          { label: "green accounts", data: bars.map(function (b) { return b.green; }), backgroundColor: shade("#15803d", "#bbf7d0"), borderColor: "#15803d", borderWidth: 1 },
          { label: "others", data: bars.map(function (b) { return b.rest; }), backgroundColor: shade("#64748b", "#e2e8f0"), borderColor: "#64748b", borderWidth: 1 }
        ]
      },
      options: {
        indexAxis: "y", animation: false, maintainAspectRatio: false,
        scales: { x: { min: 0, max: 100, title: { display: true, text: "% of the group that did it" } } },
        plugins: {
          legend: { position: "bottom", labels: { boxWidth: 12 } },
          tooltip: { callbacks: { label: function (ctx) {
            return ctx.dataset.label + ": " + ctx.raw + "%" + (bars[ctx.dataIndex].claimed ? " (claimed)" : "");
          } } }
        }
      }
    });
    canvas.dataset.drawn = "true";
  }

  // The quadrant population at each run; each line has its own dash as
  // well as its colour.
  var QUADRANT_LINES = {
    champion: { color: "#15803d", dash: [] },
    vocal: { color: "#d97706", dash: [8, 4] },
    quiet: { color: "#7c3aed", dash: [2, 3] },
    "at-risk": { color: "#b91c1c", dash: [12, 3, 2, 3] }
  };

  function trend(canvas) {
    var old = Chart.getChart(canvas);
    if (old) { old.destroy(); }
    var data = JSON.parse(canvas.dataset.chart);
    new Chart(canvas, {
      type: "line",
      data: {
        labels: data.dates,
        datasets: data.series.map(function (s) {
          var l = QUADRANT_LINES[s.quadrant] || { color: "#64748b", dash: [] };
          return { label: s.quadrant, data: s.counts, borderColor: l.color, backgroundColor: l.color, borderDash: l.dash,
            borderWidth: s.quadrant === "quiet" ? 3 : 2, tension: 0.2 };
        })
      },
      options: {
        animation: false, maintainAspectRatio: false,
        scales: { y: { beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: "accounts" } } },
        plugins: { legend: { position: "bottom", labels: { boxWidth: 24 } } }
      }
    });
    canvas.dataset.drawn = "true";
  }

  // A select marked data-autosubmit sends its form when it changes (the
  // form's button does the same without JavaScript).
  function autosubmit(select) {
    select.addEventListener("change", function () { select.form.submit(); });
  }

  function init(root) {
    root.querySelectorAll("select[data-autosubmit]").forEach(autosubmit);
    if (typeof Chart === "undefined") { return; }
    root.querySelectorAll("#quadrant-chart").forEach(quadrant);
    root.querySelectorAll("canvas.activity-chart").forEach(activity);
    root.querySelectorAll("canvas.score-chart").forEach(scores);
    root.querySelectorAll("canvas.lab-chart").forEach(lab);
    root.querySelectorAll("canvas.diff-chart").forEach(differences);
    root.querySelectorAll("canvas.trend-chart").forEach(trend);
  }

  // Polled fragments replace their canvases: free the old charts first.
  document.addEventListener("htmx:beforeSwap", function (e) {
    if (typeof Chart === "undefined" || !e.detail.target) { return; }
    e.detail.target.querySelectorAll("canvas").forEach(function (c) {
      var ch = Chart.getChart(c); if (ch) { ch.destroy(); }
    });
  });
  if (window.htmx) {
    htmx.onLoad(function (el) { init(el.querySelectorAll ? el : document); });
  } else {
    init(document);
  }
})();
