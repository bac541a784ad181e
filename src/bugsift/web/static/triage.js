// Triage queue keys: j / k move to the next / previous report, a accepts its first suggestion,
// o opens the report's page. Keys typed into a field are left alone.
"use strict";
(function () {
  const rows = Array.from(document.querySelectorAll("article.report"));
  if (!rows.length) return;
  let current = -1;
  function select(index) {
    if (index < 0 || index >= rows.length) return;
    if (current >= 0) rows[current].classList.remove("current");
    current = index;
    const row = rows[current];
    row.classList.add("current");
    const target = row.querySelector("button.accept") || row.querySelector("a.open");
    if (target) target.focus({ preventScroll: true });
    row.scrollIntoView({ block: "nearest" });
  }
  rows.forEach(function (row, index) {
    row.addEventListener("focusin", function () {
      if (current >= 0 && current !== index) rows[current].classList.remove("current");
      current = index;
      row.classList.add("current");
    });
  });
  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    const tag = event.target && event.target.tagName;
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || event.target.isContentEditable) return;
    if (event.key === "j") {
      select(current + 1);
    } else if (event.key === "k") {
      select(current < 0 ? 0 : current - 1);
    } else if (event.key === "a" && current >= 0) {
      const accept = rows[current].querySelector("button.accept");
      if (accept) accept.click();
    } else if (event.key === "o" && current >= 0) {
      const open = rows[current].querySelector("a.open");
      if (open) open.click();
    } else {
      return;
    }
    event.preventDefault();
  });
})();
