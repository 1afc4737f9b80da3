// Live refresh of the dashboard, lists and rollout pages without a full reload: every few seconds
// the page asks for its own URL again and swaps the fragments named by the script tag's
// data-fragments (CSS selectors) in place. It waits while the operator is busy (rows selected, a
// field focused) and while the tab is hidden, so it never takes a click or a keystroke away.
(function () {
  "use strict";
  const script = document.currentScript;
  if (!script) return;
  const selectors = (script.dataset.fragments || "").split(",").map((s) => s.trim()).filter(Boolean);
  const seconds = Number(script.dataset.interval) || 3;
  if (!selectors.length) return;

  function busy() {
    if (document.hidden) return true;
    const active = document.activeElement;
    // Typing or choosing (search box, action menu); a clicked checkbox or button keeps focus too,
    // but only a selected row (below) should hold the list.
    const typing = "input:not([type=checkbox]):not([type=radio]):not([type=submit]):not([type=button]), select, textarea, [contenteditable]";
    if (active && active.matches(typing)) return true;
    // Selected rows belong to a bulk action the operator is about to run.
    return document.querySelector("input.action-select:checked, #action-toggle:checked") !== null;
  }

  function rowKey(row) {
    const box = row.querySelector("input.action-select");
    return box ? box.value : null;
  }

  // Rows are matched by their checkbox (the object's pk); only the other cells change, so the
  // checkboxes Django's actions.js bound its handlers to stay the same elements.
  function swapRows(current, fresh) {
    const old = new Map();
    current.querySelectorAll(":scope > tr").forEach((row) => old.set(rowKey(row), row));
    const rows = Array.from(fresh.querySelectorAll(":scope > tr")).map((row) => {
      const kept = old.get(rowKey(row));
      if (!kept) return document.importNode(row, true);
      const cells = Array.from(row.children);
      Array.from(kept.children).forEach((cell, index) => {
        const next = cells[index];
        if (next && !cell.classList.contains("action-checkbox") && cell.innerHTML !== next.innerHTML) {
          cell.innerHTML = next.innerHTML;
        }
      });
      kept.className = row.className;
      return kept;
    });
    const same = rows.length === current.children.length && rows.every((row, i) => current.children[i] === row);
    if (!same) current.replaceChildren(...rows);
  }

  function swap(selector, doc) {
    const current = document.querySelector(selector);
    const fresh = doc.querySelector(selector);
    if (!current || !fresh) return;
    if (current.tagName === "TBODY") {
      swapRows(current, fresh);
    } else if (current.innerHTML !== fresh.innerHTML) {
      current.innerHTML = fresh.innerHTML;
    }
  }

  let ticks = 0;
  async function refresh() {
    if (!busy()) {
      try {
        const response = await fetch(window.location.href, {
          credentials: "same-origin",
          cache: "no-store",
          headers: { "X-Requested-With": "XMLHttpRequest" },
        });
        // A lapsed session redirects to the login page: stop rather than swap in a login form.
        if (response.redirected) return;
        if (response.ok) {
          const doc = new DOMParser().parseFromString(await response.text(), "text/html");
          // The operator may have started something while the request ran.
          if (!busy()) selectors.forEach((selector) => swap(selector, doc));
        }
      } catch (error) {
        // Server restarting or network gone: try again on the next tick.
      }
    }
    // Counted on the page (data-gb-ticks) so a test can tell a skipped tick from a slow one.
    document.documentElement.dataset.gbTicks = String((ticks += 1));
    schedule();
  }

  function schedule() {
    window.setTimeout(refresh, seconds * 1000);
  }

  schedule();
})();
