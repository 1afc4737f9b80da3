// The saved filter form: while the operator types a device query, show how many devices it
// matches (or what is wrong with it) under the field. Asks the admin's count view, at most once
// per pause in typing, and ignores answers that arrive after a newer question.
(function () {
  "use strict";
  function start() {
    const field = document.querySelector("textarea.gb-device-query, #id_query");
    if (!field) return;
    const out = document.createElement("div");
    out.className = "help gb-device-query-count";
    out.setAttribute("aria-live", "polite");
    field.insertAdjacentElement("afterend", out);
    // .../rollouts/devicefilter/add/ or .../<id>/change/ -> .../rollouts/devicefilter/count/
    const base = window.location.pathname.replace(/\/(add|\d+\/change)\/?$/, "/");
    let timer = null;
    let asked = 0;
    function ask() {
      const question = ++asked;
      const query = field.value;
      if (!query.trim()) { out.textContent = ""; return; }
      fetch(base + "count/?q=" + encodeURIComponent(query), { credentials: "same-origin" })
        .then((response) => response.json())
        .then((body) => {
          if (question !== asked) return;
          out.textContent = body.error !== undefined ? "Not a valid query: " + body.error
            : body.count + (body.count === 1 ? " device matches" : " devices match") + " right now.";
        })
        .catch(() => { if (question === asked) out.textContent = ""; });
    }
    field.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(ask, 300); });
    ask();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
