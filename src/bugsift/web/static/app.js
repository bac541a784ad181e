// Suggestions while the reporter types: debounced POST /suggest, drawn with textContent (never innerHTML).
"use strict";
(function () {
  // On a phone, a table.cards row is a card (style.css): name each cell after its column header.
  for (const table of document.querySelectorAll("table.cards")) {
    const heads = Array.from(table.querySelectorAll("tr th")).map((th) => th.textContent.trim());
    for (const row of table.querySelectorAll("tr")) {
      Array.from(row.children).forEach((cell, i) => {
        if (cell.tagName === "TD" && heads[i] && !cell.hasAttribute("colspan")) cell.dataset.label = heads[i];
      });
    }
  }
})();
(function () {
  const form = document.getElementById("report-form");
  if (!form) return;
  const list = document.getElementById("suggestion-list");
  const token = document.querySelector('meta[name="csrf-token"]').content;
  const fields = ["title", "description", "product", "version", "steps"];
  let timer = null;
  let sequence = 0;

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (cls) node.className = cls;
    return node;
  }

  // A reason with the report's own words starred ("words: *freeze*") shows them in italics.
  function reasonNode(text) {
    const span = el("span", undefined, "reason");
    String(text).split(/\*([^*\n]+)\*/).forEach((part, i) => {
      if (part) span.appendChild(i % 2 ? el("em", part) : document.createTextNode(part));
    });
    return span;
  }

  function pct(p) { return Math.round(p * 100) + "%"; }

  function draw(answer) {
    list.replaceChildren();
    const tasks = Object.keys(answer);
    if (!tasks.length) { list.appendChild(el("p", "No trained model answered.", "hint")); return; }
    for (const task of tasks) {
      const r = answer[task];
      const box = el("div", undefined, r.estimate ? "suggestion estimate" : "suggestion");
      box.dataset.task = task;
      box.appendChild(el("h3", r.task_text || task));
      if (r.estimate) drawEstimate(box, r); else drawLabel(box, r);
      // the reasons: the text of each {text, weight, kind} (the server filtered them: r.words)
      const reasons = r.words || (r.explanation || []).map((x) => (typeof x === "string" ? x : x.text));
      if (reasons.length) {
        const why = el("p", "because of: ", "words reasons");
        reasons.forEach((text, i) => {
          if (i) why.appendChild(document.createTextNode("; "));
          why.appendChild(reasonNode(text));
        });
        box.appendChild(why);
      }
      list.appendChild(box);
    }
    drawDrivers(tasks.flatMap((task) => answer[task].report_words || []));
  }

  // fix-time: days with an interval, no class probability: the server's words, no percentages
  function drawEstimate(box, r) {
    const line = el("p");
    const strong = el("strong", r.summary || String(r.prediction) + " " + (r.unit || ""), "summary");
    if (r.prediction !== null) strong.dataset.value = String(r.prediction);
    line.appendChild(strong);
    if (r.uncertain) {
      line.appendChild(document.createTextNode(" "));
      line.appendChild(el("span", "not sure", "unsure"));
    }
    box.appendChild(line);
  }

  function drawLabel(box, r) {
    // an uncalibrated text-similarity answer has a score, not a probability: show the score
    const byScore = r.calibrated === false;
    const how = (x) => byScore ? "similarity " + (x.score || 0).toFixed(2) : pct(x.probability);
    const line = el("p");
    // label_text: the server's words for the stored value (not_defect -> "Not a defect")
    const shown = r.prediction === null ? "none" : (r.label_text || String(r.prediction));
    const strong = el("strong", shown);
    if (r.prediction !== null) strong.dataset.value = String(r.prediction);
    line.appendChild(strong);
    line.appendChild(document.createTextNode(" " + how(r) + " "));
    if (r.uncertain) line.appendChild(el("span", "not sure", "unsure"));
    box.appendChild(line);
    const ul = el("ul");
    for (const c of r.candidates || []) {
      const name = c.label_text || c.label;
      ul.appendChild(el("li", name + (c.title ? ": " + c.title : "") + " — " + how(c)));
    }
    box.appendChild(ul);
  }

  // The textarea cannot mark words: list the report's words behind the answers once, under them all.
  function drawDrivers(words) {
    const unique = [];
    const seen = new Set();
    for (const word of words) {  // each once, in any case (two answers may name the same word)
      if (seen.has(word.toLowerCase())) continue;
      seen.add(word.toLowerCase());
      unique.push(word);
    }
    if (!unique.length) return;
    const line = el("p", "Words that drove this: ", "words drivers");
    unique.forEach((word, i) => {
      if (i) line.appendChild(document.createTextNode(", "));
      line.appendChild(el("mark", word));
    });
    list.appendChild(line);
  }

  async function ask() {
    const body = {};
    for (const name of fields) {
      const input = form.elements[name];
      if (input && input.value.trim()) body[name] = input.value;
    }
    if (!body.title && !body.description) return;
    const mine = ++sequence;
    try {
      const response = await fetch(form.dataset.suggestUrl, {
        method: "POST",
        headers: {"Content-Type": "application/json", "X-CSRFToken": token},
        body: JSON.stringify(body),
        credentials: "same-origin",
      });
      if (!response.ok || mine !== sequence) return;  // rate-limited or overtaken: keep what is shown
      draw(await response.json());
    } catch (error) {
      // offline or server down: the form still submits, with server-side suggestions
    }
  }

  form.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(ask, 300);
  });
})();
