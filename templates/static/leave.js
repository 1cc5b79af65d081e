// "Leave this site quickly". Without JavaScript the link is an ordinary
// link. With it, the link and the Escape key replace this page with the
// neutral site, so Back doesn't bring it up again (where the browser
// honours location.replace), and the page is blanked at once in case the
// next one is slow to come.
(function () {
  var link = document.getElementById("leave-site");
  if (!link) return;
  function leave(event) {
    if (event) event.preventDefault();
    document.documentElement.style.visibility = "hidden";
    document.title = "";
    window.location.replace(link.href);
  }
  link.addEventListener("click", leave);
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" || event.key === "Esc") leave(event);
  });
  link.setAttribute("aria-keyshortcuts", "Escape");
  link.setAttribute("data-escape", "");
})();
