// Live update log on a device's page: every 2 s ask the admin for log lines newer than the last
// one shown, append them, and move the progress bar and badges. A new update reloads the page.
// The page shows the newest lines only; "Older lines" fetches the page before them.
(function () {
  "use strict";
  const log = document.getElementById("gb-live-log");
  if (!log) return;
  const body = log.querySelector("tbody");
  const cells = ["time", "source", "execution", "result", "progress", "details"];
  const addCells = (row, line) => {
    row.dataset.id = line.id;
    for (const name of cells) { const cell = row.insertCell(); cell.className = "gb-log__" + name; cell.textContent = line[name]; }
    row.cells[0].title = line.timestamp;
  };
  // "Older lines": fetch the page before the first line shown and put it on top.
  const older = document.getElementById("gb-log-older");
  if (older) older.addEventListener("click", async (event) => {
    event.preventDefault();
    try {
      const response = await fetch(log.dataset.url + "?before=" + older.dataset.before, { headers: { Accept: "application/json" } });
      if (!response.ok) return;
      const data = await response.json();
      data.lines.slice().reverse().forEach((line) => {
        const row = body.insertRow(0);
        if (line.tone) row.className = "gb-log__row--" + line.tone;
        addCells(row, line);
      });
      if (data.lines.length) older.dataset.before = data.lines[0].id;
      if (!data.has_older) older.remove();
    } catch (error) {
      // Leave the link: the next click tries again.
    }
  });
  const setBadge = (el, label, tone) => { if (el) { el.textContent = label; el.className = "gb-badge gb-badge--" + tone; } };
  async function tick() {
    try {
      const response = await fetch(log.dataset.url + "?after=" + log.dataset.after, { headers: { Accept: "application/json" } });
      if (!response.ok) return;
      const data = await response.json();
      if (String(data.action ? data.action.id : "") !== log.dataset.action) { window.location.reload(); return; }
      // Looking back at older lines (?log_before=): the badges move, no lines are appended.
      const lines = log.dataset.pagedBack ? [] : data.lines;
      for (const line of lines) {
        const row = body.insertRow();
        row.className = "gb-log__new" + (line.tone ? " gb-log__row--" + line.tone : "");
        addCells(row, line);
        log.dataset.after = line.id;
      }
      if (lines.length) { const wrap = log.parentElement; wrap.scrollTop = wrap.scrollHeight; }
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
