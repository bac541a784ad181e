// Suggestions while the reporter types: debounced POST /suggest, drawn with textContent (never innerHTML).
"use strict";
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

  function pct(p) { return Math.round(p * 100) + "%"; }

  function draw(answer) {
    list.replaceChildren();
    const tasks = Object.keys(answer);
    if (!tasks.length) { list.appendChild(el("p", "No trained model answered.", "hint")); return; }
    for (const task of tasks) {
      const r = answer[task];
      const box = el("div", undefined, "suggestion");
      box.dataset.task = task;
      box.appendChild(el("h3", task));
      // an uncalibrated text-similarity answer has a score, not a probability: show the score
      const byScore = r.calibrated === false;
      const how = (x) => byScore ? "similarity " + (x.score || 0).toFixed(2) : pct(x.probability);
      const line = el("p");
      line.appendChild(el("strong", r.prediction === null ? "none" : String(r.prediction)));
      line.appendChild(document.createTextNode(" " + how(r) + " "));
      if (r.uncertain) line.appendChild(el("span", "not sure", "unsure"));
      box.appendChild(line);
      const ul = el("ul");
      for (const c of r.candidates || []) {
        ul.appendChild(el("li", c.label + (c.title ? ": " + c.title : "") + " — " + how(c)));
      }
      box.appendChild(ul);
      // the reasons: the text of each {text, weight, kind} (the server filtered them: r.words)
      const reasons = r.words || (r.explanation || []).map((x) => (typeof x === "string" ? x : x.text));
      if (reasons.length) {
        const why = el("p", "because of: ", "words reasons");
        reasons.forEach((text, i) => {
          if (i) why.appendChild(document.createTextNode("; "));
          why.appendChild(el("span", text, "reason"));
        });
        box.appendChild(why);
      }
      list.appendChild(box);
    }
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
