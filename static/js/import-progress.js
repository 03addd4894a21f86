// The import page's progress bar: polls the upload's status endpoint every second, updates the bar and
// its text, and reloads the page when the status changes (the preview or the report is then shown).
// Without JavaScript the page reloads itself every few seconds (a Refresh header).
(function () {
  "use strict";
  var panel = document.querySelector("[data-status-url]");
  if (!panel) return;
  var url = panel.getAttribute("data-status-url");
  var status = panel.getAttribute("data-status");
  var bar = panel.querySelector("progress");
  var text = panel.querySelector(".import-progress__text");

  // The page's own (translated) sentences, with %(name)s placeholders.
  function say(name, values) {
    return (panel.getAttribute("data-text-" + name) || "").replace(/%\((\w+)\)s/g, function (_, key) {
      return String(values[key] === undefined ? "" : values[key]);
    });
  }

  function show(p) {
    if (!bar || !text) return;
    if (p.total) {
      bar.max = p.total;
      bar.value = p.done || 0;
      text.textContent = say("batches", { done: p.done || 0, total: p.total });
    } else if (typeof p.rows === "number") {
      bar.removeAttribute("value");
      text.textContent = say("rows", { rows: p.rows });
    }
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error(response.status);
        return response.json();
      })
      .then(function (data) {
        if (data.status !== status) {
          window.location.reload();
          return;
        }
        show(data.progress || {});
        window.setTimeout(poll, 1000);
      })
      .catch(function () {
        window.setTimeout(poll, 3000);
      });
  }
  window.setTimeout(poll, 1000);
})();
