// examples/lua/greeter-ui/ui/panel.js — the greeter's console panel: gets its messages in the console's
// locale and greets the name typed by calling greeter.greet, both through the console's message API
// (docs/console.md): parent.postMessage({bay, id, ...}) answered by {bay: "result"|"error", id, ...}.
(function () {
  "use strict";
  let last = 0;
  const waiting = new Map(); // request id -> {resolve, reject}
  let texts = {};

  // ask posts request (its "bay" and fields) to the console and resolves with its result.
  function ask(request) {
    return new Promise(function (resolve, reject) {
      const id = ++last;
      waiting.set(id, {resolve: resolve, reject: reject});
      parent.postMessage(Object.assign({}, request, {id: id}), "*");
    });
  }

  window.addEventListener("message", function (event) {
    const m = event.data;
    if (event.source !== parent || !m || typeof m !== "object" || !waiting.has(m.id))
      return;
    const w = waiting.get(m.id);
    waiting.delete(m.id);
    if (m.bay === "result")
      w.resolve(m.result);
    else
      w.reject(m.error || {code: "EPROTO", message: "an answer the panel does not know"});
  });

  function text(key, fallback) {
    return typeof texts[key] === "string" ? texts[key] : fallback;
  }

  function show(message, failed) {
    const answer = document.getElementById("answer");
    answer.textContent = message;
    answer.className = failed ? "error" : "";
  }

  document.getElementById("form").addEventListener("submit", function (event) {
    event.preventDefault();
    const who = document.getElementById("who").value.trim();
    if (!who) {
      show(text("empty", "Type a name first."), true);
      return;
    }
    ask({bay: "call", name: "greeter.greet", args: [who]}).then(function (greeting) {
      show(String(greeting), false);
    }, function (error) {
      show(text("failed", "The greeting failed:") + " " + error.code + ": " + error.message, true);
    });
  });

  ask({bay: "messages"}).then(function (messages) {
    texts = messages || {};
    document.querySelectorAll("[data-text]").forEach(function (node) {
      node.textContent = text(node.getAttribute("data-text"), node.textContent);
    });
  }, function () { /* the built-in English texts stay */ });
})();
