// Live parts of the console: each server-sent event replaces the element of the same id.
// Written for this project (no library); the server renders and escapes every fragment.
(function () {
  "use strict";
  var holder = document.querySelector("[data-live]");
  if (!holder || !window.EventSource) { return; }
  var source = new EventSource(holder.getAttribute("data-live"));
  ["me", "queues", "agents", "figures", "crisis", "announce"].forEach(function (name) {
    source.addEventListener(name, function (event) {
      var target = document.getElementById(name);
      if (target) { target.innerHTML = event.data; }
    });
  });
  source.onopen = function () { document.body.setAttribute("data-live-state", "open"); };
  source.onerror = function () { document.body.setAttribute("data-live-state", "retrying"); };
})();
