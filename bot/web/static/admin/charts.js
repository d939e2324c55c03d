// The /admin charts: reads the report for the chosen days from /admin/charts.json and draws
// it with plotly.js, which keepposted serves itself (/admin/static/plotly.min.js).
"use strict";

(function () {
  const totals = document.getElementById("totals");
  const failure = document.getElementById("charts-error");
  const layout = {
    margin: { l: 64, r: 16, t: 8, b: 40 },
    legend: { orientation: "h", y: -0.2 },
    xaxis: { type: "date", tickformat: "%d %b" },
    font: { family: "system-ui, sans-serif", size: 12 },
  };
  const config = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["sendDataToCloud"] };

  function percent(value) {
    return value === null ? "–" : Math.round(value * 100) + "%";
  }

  function minutes(seconds) {
    if (seconds === null) return "–";
    return seconds > 3 * 3600 ? (seconds / 3600).toFixed(1) + " h" : (seconds / 60).toFixed(1) + " min";
  }

  function showTotals(report) {
    const t = report.totals;
    const shown = [
      ["Cases opened", t.cases_opened],
      ["Open now", report.cases_open_now],
      ["Updates sent", t.updates_sent],
      ["On time", percent(t.on_time_share)],
      ["Confirmation rate", percent(t.confirmation_rate)],
      ["Reopen rate", percent(t.reopen_rate)],
      ["Auto-close rate", percent(t.auto_close_rate)],
      ["Median time to confirm", minutes(t.median_time_to_confirm_s)],
      ["CSAT", t.csat_average === null ? "–" : t.csat_average.toFixed(2) + " (" + t.csat_count + ")"],
    ];
    totals.replaceChildren();
    for (const [label, value] of shown) {
      const dt = document.createElement("dt");
      const dd = document.createElement("dd");
      dt.textContent = label;
      dd.textContent = String(value);
      totals.append(dt, dd);
    }
  }

  function series(days, field, scale) {
    return days.map((d) => (d[field] === null ? null : d[field] * (scale || 1)));
  }

  function draw(report) {
    const days = report.daily;
    const x = days.map((d) => d.date);
    const line = (name, field, color) => ({
      x, y: series(days, field, 100), name, type: "scatter", mode: "lines+markers",
      connectgaps: true, line: { color },
      hovertemplate: "%{y:.0f}%<extra>" + name + "</extra>",
    });
    Plotly.newPlot("chart-rates", [
      line("Confirmed", "confirmation_rate", "#1c7c4a"),
      line("Reopened", "reopen_rate", "#b3261e"),
      line("Auto-closed", "auto_close_rate", "#a15c00"),
    ], { ...layout, yaxis: { ticksuffix: "%", range: [0, 105] } }, config);
    // Minutes, or hours when customers take that long (a 24-hour reminder is common).
    const waits = series(days, "median_time_to_confirm_s").filter((v) => v !== null);
    const hours = Math.max(0, ...waits) > 3 * 3600;
    const unit = hours ? " h" : " min";
    Plotly.newPlot("chart-confirm", [{
      x, y: series(days, "median_time_to_confirm_s", hours ? 1 / 3600 : 1 / 60), type: "bar",
      marker: { color: "#2457c5" }, name: "median",
      hovertemplate: "%{y:.1f}" + unit + "<extra></extra>",
    }], { ...layout, yaxis: { ticksuffix: unit } }, config);
    Plotly.newPlot("chart-updates", [
      { x, y: series(days, "interim_sent"), type: "bar", name: "Interim updates", marker: { color: "#2457c5" } },
      { x, y: series(days, "delay_notices_sent"), type: "bar", name: "Delay notices", marker: { color: "#8fa8dc" } },
    ], { ...layout, barmode: "stack" }, config);
    Plotly.newPlot("chart-ontime", [{
      x, y: series(days, "on_time_share", 100), type: "scatter", mode: "lines+markers",
      fill: "tozeroy", line: { color: "#1c7c4a" }, connectgaps: true, name: "on time",
      customdata: days.map((d) => [d.interim_on_time, d.interim_timed]),
      hovertemplate: "%{y:.0f}% (%{customdata[0]} of %{customdata[1]})<extra></extra>",
    }], {
      ...layout,
      yaxis: { ticksuffix: "%", range: [0, 105] },
      annotations: [{
        text: "on time = sent within " + Math.round(report.on_time_within_s / 60) + " min of due",
        xref: "paper", yref: "paper", x: 0, y: 0, showarrow: false, xanchor: "left", yanchor: "bottom",
        font: { size: 11, color: "#5f6b7a" },
      }],
    }, config);
    document.body.dataset.chartsDrawn = "1";
  }

  fetch(totals.dataset.url, { credentials: "same-origin" })
    .then((response) => {
      if (!response.ok) {
        return response.json().then((body) => { throw new Error(body.error ? body.error.message : response.statusText); });
      }
      return response.json();
    })
    .then((report) => { showTotals(report); draw(report); })
    .catch((error) => {
      failure.textContent = "The charts could not be loaded: " + error.message;
      failure.hidden = false;
    });
})();
