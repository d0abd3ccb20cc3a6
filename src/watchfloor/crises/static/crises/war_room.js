// Keeps the war room current without a reload. Every 15 seconds (data-live-every) it
// fetches the page's live fragment (data-live-url) and swaps each section marked
// data-live whose content changed, matched by id. A section the reader is working in
// (focus inside it, or a <details> opened in it) is left alone until they leave it.
// Polling pauses while the tab is hidden and resumes, at once, when it comes back.
(function () {
  "use strict";

  var room = document.querySelector("[data-live-url]");
  if (!room) {
    return;
  }
  var url = room.getAttribute("data-live-url");
  var every = Math.max(5, parseInt(room.getAttribute("data-live-every"), 10) || 15) * 1000;
  var stamp = room.querySelector("[data-live-stamp]");
  var timer = null;
  var stopped = false;

  function say(text) {
    if (stamp) {
      stamp.textContent = text;
    }
  }

  function twoDigits(number) {
    return (number < 10 ? "0" : "") + number;
  }

  // The markup without what changes on every render but means nothing (CSRF tokens).
  function comparable(element) {
    var copy = element.cloneNode(true);
    var tokens = copy.querySelectorAll("input[name=csrfmiddlewaretoken]");
    for (var i = 0; i < tokens.length; i++) {
      tokens[i].removeAttribute("value");
    }
    return copy.innerHTML;
  }

  function busy(section) {
    return (
      section.contains(document.activeElement) ||
      section.querySelector("details[open]") !== null
    );
  }

  function swap(html) {
    var fresh = new DOMParser().parseFromString(html, "text/html");
    var sections = fresh.querySelectorAll("[data-live][id]");
    var changed = 0;
    for (var i = 0; i < sections.length; i++) {
      var incoming = sections[i];
      var current = document.getElementById(incoming.id);
      if (!current || busy(current) || comparable(current) === comparable(incoming)) {
        continue;
      }
      current.replaceWith(document.importNode(incoming, true));
      changed++;
    }
    return changed;
  }

  function schedule() {
    window.clearTimeout(timer);
    if (!stopped && !document.hidden) {
      timer = window.setTimeout(refresh, every);
    }
  }

  function refresh() {
    fetch(url, {
      credentials: "same-origin",
      headers: { "X-Requested-With": "fetch", Accept: "text/html" },
      cache: "no-store",
    })
      .then(function (response) {
        if (response.status === 404 || response.status === 403 || response.redirected) {
          stopped = true;
          say("Live updates stopped: you can no longer see this crisis, or you were signed out. Reload the page.");
          return null;
        }
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.text();
      })
      .then(function (html) {
        if (html === null) {
          return;
        }
        var changed = swap(html);
        var now = new Date();
        say(
          "Live · checked " + twoDigits(now.getHours()) + ":" + twoDigits(now.getMinutes()) +
            ":" + twoDigits(now.getSeconds()) + (changed ? " · " + changed + " section" + (changed > 1 ? "s" : "") + " updated" : "")
        );
        room.setAttribute("data-live-updates", String(parseInt(room.getAttribute("data-live-updates") || "0", 10) + 1));
      })
      .catch(function () {
        say("Live updates interrupted; retrying.");
      })
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
})();
