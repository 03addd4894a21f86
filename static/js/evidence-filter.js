// The assessment form's "Other evidence" list (templates/cases/workflow/_evidence_picker.html): a filter box
// that hides the sources whose title, publisher or date do not contain what is typed. Ticked sources stay
// visible, so a choice is never hidden. Without JavaScript the box stays hidden and the list is a plain
// checkbox list. A static file (the Content-Security-Policy allows no inline script); it only toggles the
// `hidden` attribute and text, never styles or HTML.
(function () {
  "use strict";

  function fold(text) {
    // Case- and accent-insensitive: "cafe" finds "Café".
    return (text || "").normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }

  function setUp(input) {
    var list = document.getElementById(input.getAttribute("data-filter-list"));
    var box = input.closest(".evidence-filter");
    if (!list || !box) return;
    var count = box.querySelector(".evidence-filter__count");
    var items = Array.prototype.slice.call(list.querySelectorAll("li"));
    var texts = items.map(function (item) {
      return fold(item.textContent.replace(/\s+/g, " "));
    });

    function apply() {
      var words = fold(input.value).split(/\s+/).filter(Boolean);
      var shown = 0;
      items.forEach(function (item, index) {
        var ticked = item.querySelector("input:checked") !== null;
        var match = words.every(function (word) {
          return texts[index].indexOf(word) !== -1;
        });
        item.hidden = !(ticked || match);
        if (!item.hidden) shown += 1;
      });
      if (count) {
        count.textContent = words.length
          ? (count.getAttribute("data-text") || "")
              .replace("%(shown)s", String(shown))
              .replace("%(total)s", String(items.length))
          : "";
      }
    }

    input.addEventListener("input", apply);
    // Enter in the filter box must not submit the assessment.
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter") event.preventDefault();
    });
    box.hidden = false;
    apply();
  }

  Array.prototype.forEach.call(document.querySelectorAll("input[data-filter-list]"), setUp);
})();
