// The printable dossier's "Print" button: hidden until this script runs (without JavaScript the page says to
// use the browser's Print command), then it opens the print dialog. No inline script: the CSP forbids it.
document.querySelectorAll("[data-print]").forEach((button) => {
  button.hidden = false;
  button.addEventListener("click", () => window.print());
});
