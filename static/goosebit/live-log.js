// Live update log on a device's page: every 2 s ask the admin for log lines newer than the last
// one shown, append them, and move the progress bar and badges. A new update reloads the page.
(function () {
  "use strict";
  const log = document.getElementById("gb-live-log");
  if (!log) return;
  const body = log.querySelector("tbody");
  const cells = ["time", "source", "execution", "result", "progress", "details"];
  const setBadge = (el, label, tone) => { if (el) { el.textContent = label; el.className = "gb-badge gb-badge--" + tone; } };
  async function tick() {
    try {
      const response = await fetch(log.dataset.url + "?after=" + log.dataset.after, { headers: { Accept: "application/json" } });
      if (!response.ok) return;
      const data = await response.json();
      if (String(data.action ? data.action.id : "") !== log.dataset.action) { window.location.reload(); return; }
      for (const line of data.lines) {
        const row = body.insertRow();
        row.className = "gb-log__new" + (line.tone ? " gb-log__row--" + line.tone : "");
        row.dataset.id = line.id;
        for (const name of cells) { const cell = row.insertCell(); cell.className = "gb-log__" + name; cell.textContent = line[name]; }
        row.cells[0].title = line.timestamp;
        log.dataset.after = line.id;
      }
      if (data.lines.length) { const wrap = log.parentElement; wrap.scrollTop = wrap.scrollHeight; }
      // Width, tone and label come from the server (a failed update says "failed at N%").
      const bar = document.querySelector("#gb-live-progress .gb-progress__bar");
      if (bar) {
        const label = document.querySelector("#gb-live-progress .gb-progress__label");
        bar.style.width = data.device.progress_width + "%";
        bar.className = "gb-progress__bar gb-progress__bar--" + data.device.progress_tone;
        label.className = "gb-progress__label gb-progress__label--" + data.device.progress_tone;
        label.textContent = data.device.progress_label;
      }
      setBadge(document.getElementById("gb-live-state"), data.device.state_label, data.device.state_tone);
      if (data.action) setBadge(document.getElementById("gb-live-status"), data.action.status_label, data.action.status_tone);
      const empty = document.getElementById("gb-log-empty");
      if (empty && body.rows.length) empty.remove();
    } catch (error) {
      // Network hiccup or server restart: try again on the next tick.
    } finally {
      setTimeout(tick, 2000);
    }
  }
  setTimeout(tick, 2000);
})();
