// A quiet indicator kept current without a reload (the queue's "n new since you loaded").
// A holder marked data-fragment-url is fetched every data-fragment-every seconds; each
// element of the answer that has an id replaces the element of the page with that id.
// Polling pauses while the tab is hidden and stops when the answer says the reader was
// signed out. Without this script the holder stays empty: nothing depends on it.
(function () {
  "use strict";

  var holders = document.querySelectorAll("[data-fragment-url]");
  for (var i = 0; i < holders.length; i++) {
    watch(holders[i]);
  }

  function watch(holder) {
    var url = holder.getAttribute("data-fragment-url");
    var every = Math.max(10, parseInt(holder.getAttribute("data-fragment-every"), 10) || 30) * 1000;
    var timer = null;
    var stopped = false;

    function schedule() {
      window.clearTimeout(timer);
      if (!stopped && !document.hidden) {
        timer = window.setTimeout(refresh, every);
      }
    }

    function swap(html) {
      var fresh = new DOMParser().parseFromString(html, "text/html");
      var parts = fresh.body.querySelectorAll("[id]");
      for (var j = 0; j < parts.length; j++) {
        var current = document.getElementById(parts[j].id);
        if (current && holder.contains(current) && current.innerHTML !== parts[j].innerHTML) {
          current.replaceWith(document.importNode(parts[j], true));
        }
      }
    }

    function refresh() {
      fetch(url, {
        credentials: "same-origin",
        headers: { "X-Requested-With": "fetch", Accept: "text/html" },
        cache: "no-store",
      })
        .then(function (response) {
          if (response.redirected || response.status === 403 || response.status === 404) {
            stopped = true;
            return null;
          }
          return response.ok ? response.text() : null;
        })
        .then(function (html) {
          if (html) {
            swap(html);
          }
        })
        .catch(function () {})
        .then(schedule);
    }

    document.addEventListener("visibilitychange", function () {
      if (document.hidden) {
        window.clearTimeout(timer);
      } else if (!stopped) {
        refresh();
      }
    });
    schedule();
  }
})();
