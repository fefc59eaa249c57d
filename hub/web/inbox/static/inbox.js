// Keeps an open queue page current: asks for the rows every few seconds and swaps them in
// when something changed. No framework, no build step; served from 'self' for the CSP.
(function () {
  "use strict";
  var table = document.getElementById("tickets");
  if (!table) return;
  var body = document.getElementById("ticket-rows");
  var live = document.getElementById("live");
  var every = parseInt(table.getAttribute("data-poll-ms"), 10) || 5000;
  var newest = parseInt(table.getAttribute("data-newest"), 10) || 0;
  var last = body.innerHTML;

  function poll() {
    var url = "queue.json" + window.location.search;
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) return;
        // The rows come rendered and escaped by the server's templates.
        if (data.rows !== last) {
          body.innerHTML = data.rows;
          last = data.rows;
        }
        if (data.newest > newest) {
          live.textContent = "New tickets arrived.";
          newest = data.newest;
        }
        Object.keys(data.counts).forEach(function (team) {
          var el = document.querySelector('[data-count-for="' + CSS.escape(team) + '"]');
          if (el) el.textContent = String(data.counts[team]);
        });
      })
      .catch(function () { /* the next round tries again */ })
      .then(function () { window.setTimeout(poll, every); });
  }
  window.setTimeout(poll, every);
})();
