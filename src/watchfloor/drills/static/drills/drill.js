// The drill page in UI play: reload when the next injected event falls due, so it
// arrives without anyone pressing anything (the page catches the injects up as it loads).
// No reload while the reader is typing in a form or has a <details> open.
(function () {
  "use strict";

  var page = document.querySelector("[data-reload-at]");
  if (!page) {
    return;
  }
  var due = Date.parse(page.getAttribute("data-reload-at"));
  if (isNaN(due)) {
    return;
  }

  function busy() {
    var active = document.activeElement;
    return (active && active.closest && active.closest("form")) || page.querySelector("details[open]");
  }

  function check() {
    if (Date.now() >= due + 1000 && !document.hidden && !busy()) {
      window.location.reload();
      return;
    }
    window.setTimeout(check, 5000);
  }

  window.setTimeout(check, Math.max(1000, Math.min(due + 1000 - Date.now(), 60000)));
})();
