// Keeps every countdown current. The server renders the text; this rewrites it every
// 30 seconds from the element's data-due time, counting from the server's clock
// (<body data-now>) so simulated time in drills and replays stays consistent.
// The wording matches watchfloor/web/countdown.py.
(function () {
  "use strict";

  var serverNow = Date.parse(document.body.getAttribute("data-now") || "");
  var offset = isNaN(serverNow) ? 0 : serverNow - Date.now();

  function span(milliseconds) {
    var minutes = Math.floor(milliseconds / 60000);
    if (minutes < 1) {
      return "under a minute";
    }
    var days = Math.floor(minutes / 1440);
    var hours = Math.floor((minutes % 1440) / 60);
    var rest = minutes % 60;
    if (days) {
      return hours ? days + " d " + hours + " h" : days + " d";
    }
    if (hours) {
      return rest ? hours + " h " + rest + " min" : hours + " h";
    }
    return rest + " min";
  }

  function refresh() {
    var now = Date.now() + offset;
    var countdowns = document.querySelectorAll("[data-due]");
    for (var i = 0; i < countdowns.length; i++) {
      var element = countdowns[i];
      var due = Date.parse(element.getAttribute("data-due"));
      if (isNaN(due)) {
        continue;
      }
      var breached = now > due;
      element.textContent = breached ? "breached " + span(now - due) + " ago" : "in " + span(due - now);
      element.classList.toggle("is-breached", breached);
      var holder = element.closest("tr, .next-deadline");
      if (holder && holder.querySelector("[data-due]") === element) {
        holder.classList.toggle("is-breached", breached);
      }
    }
  }

  refresh();
  window.setInterval(refresh, 30000);
})();

// The menu button of the header. On a phone (see .menu-button in watchfloor.css) the
// navigation folds behind it; without this script the button stays hidden and the
// navigation stays open, so nothing depends on it.
(function () {
  "use strict";

  var button = document.querySelector("[data-menu-button]");
  if (!button) {
    return;
  }
  var header = button.closest(".site-header");
  header.classList.add("has-menu-button");

  function setOpen(open) {
    header.classList.toggle("menu-open", open);
    button.setAttribute("aria-expanded", open ? "true" : "false");
  }

  button.addEventListener("click", function () {
    setOpen(button.getAttribute("aria-expanded") !== "true");
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && button.getAttribute("aria-expanded") === "true") {
      setOpen(false);
      button.focus();
    }
  });
})();
