// Rebound console: the review queue's keyboard (j/k, 1-9, /, Enter, u, o). Plain script, no
// library; every action is also a plain form on the item's page, so nothing needs this file.
(function () {
  "use strict";
  var queue = document.getElementById("queue");
  if (!queue) return;
  var items = Array.prototype.slice.call(queue.querySelectorAll("li.item"));
  var reasons = Array.prototype.slice.call(document.querySelectorAll("#reason-list li"));
  var search = document.getElementById("reason-search");
  var status = document.getElementById("review-status");
  var csrf = document.getElementById("csrf").value;
  var current = -1;
  var undoStack = [];   // {item, label}

  function say(text) { status.textContent = text; }

  function visibleReasons() {
    return reasons.filter(function (li) { return !li.classList.contains("hidden"); });
  }

  function numberReasons() {
    reasons.forEach(function (li) { li.classList.remove("first"); li.querySelector(".num-key").textContent = ""; });
    visibleReasons().slice(0, 9).forEach(function (li, i) {
      li.querySelector(".num-key").textContent = String(i + 1);
      if (i === 0 && search.value) li.classList.add("first");
    });
  }

  function filterReasons() {
    var words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    reasons.forEach(function (li) {
      var text = li.getAttribute("data-text").toLowerCase();
      var match = words.every(function (w) { return text.indexOf(w) >= 0; });
      li.classList.toggle("hidden", !match);
    });
    numberReasons();
  }

  function select(i) {
    if (!items.length) return;
    i = Math.max(0, Math.min(items.length - 1, i));
    if (current >= 0) items[current].classList.remove("selected");
    current = i;
    items[i].classList.add("selected");
    items[i].scrollIntoView({ block: "nearest" });
    items[i].focus({ preventScroll: true });
  }

  function nextOpen(from) {
    for (var i = from + 1; i < items.length; i++) if (!items[i].classList.contains("done")) return i;
    return from;
  }

  function post(url, fields) {
    var body = new URLSearchParams(fields);
    return fetch(url, { method: "POST", body: body, credentials: "same-origin",
                        headers: { "Accept": "application/json", "X-CSRFToken": csrf } })
      .then(function (r) { return r.json().then(function (data) { return { ok: r.ok, data: data }; }); });
  }

  function label(code) {
    if (current < 0) select(0);
    var item = items[current];
    if (!item) return;
    say("labelling as " + code + "…");
    post(item.getAttribute("data-label-url"), { reason: code, csrf_token: csrf }).then(function (res) {
      if (!res.ok) { say(res.data.message || "refused"); return; }
      undoStack.push({ item: item, label: res.data.label });
      item.classList.add("done");
      item.querySelector(".labelled").textContent = "labelled " + code + " (u: undo)";
      say("labelled " + code);
      search.value = ""; filterReasons();
      select(nextOpen(current));
    }, function () { say("the label could not be sent; try again"); });
  }

  function undo() {
    var last = undoStack.pop();
    if (!last) { say("nothing to undo"); return; }
    post(last.item.getAttribute("data-undo-url"), { label: JSON.stringify(last.label), csrf_token: csrf }).then(function (res) {
      if (!res.ok) { say(res.data.message || "could not undo"); return; }
      last.item.classList.remove("done");
      last.item.querySelector(".labelled").textContent = "";
      select(items.indexOf(last.item));
      say("label taken back");
    }, function () { undoStack.push(last); say("the undo could not be sent; try again"); });
  }

  search.addEventListener("input", filterReasons);
  search.addEventListener("keydown", function (e) {
    if (e.key === "Enter") {
      e.preventDefault();
      var first = visibleReasons()[0];
      if (first) { label(first.getAttribute("data-code")); search.blur(); }
    } else if (e.key === "Escape") {
      search.value = ""; filterReasons(); search.blur();
    }
  });
  reasons.forEach(function (li) {
    li.addEventListener("click", function () { label(li.getAttribute("data-code")); });
  });
  items.forEach(function (li, i) { li.addEventListener("click", function (e) { if (e.target.tagName !== "A") select(i); }); });

  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    var tag = (e.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "textarea" || tag === "select") return;
    if (e.key === "j") { select(current + 1); e.preventDefault(); }
    else if (e.key === "k") { select(current - 1); e.preventDefault(); }
    else if (e.key === "/") { search.focus(); e.preventDefault(); }
    else if (e.key === "u") { undo(); e.preventDefault(); }
    else if (e.key === "o" && current >= 0) { window.location = items[current].getAttribute("data-href"); }
    else if (/^[1-9]$/.test(e.key)) {
      var li = visibleReasons()[Number(e.key) - 1];
      if (li) { label(li.getAttribute("data-code")); e.preventDefault(); }
    }
  });
  numberReasons();
  if (items.length) select(0);
})();
