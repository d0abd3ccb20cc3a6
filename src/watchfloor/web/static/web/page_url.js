// A refused form is shown again by the URL it was sent to (".../notes", ".../transition"),
// which is not a page: put the address of the page the form is on back in the address
// bar, so a reload or a shared link opens that page instead of asking to send again.
(function () {
  "use strict";
  var marker = document.querySelector("[data-page-url]");
  if (marker && window.history && window.history.replaceState) {
    window.history.replaceState(null, "", marker.getAttribute("data-page-url"));
  }
})();
