// leakhound's HTML report: filter and sort the findings table. The state
// is the URL fragment (#q=…&severity=…&confidence=…&verdict=…&provider=…&repo=…&sort=…),
// so a view can be bookmarked and a headless browser can drive it. This
// script only hides and reorders rows; it never turns text into markup.
(function () {
  "use strict";
  var table = document.getElementById("findings");
  if (!table) { return; }
  var rows = Array.prototype.slice.call(table.querySelectorAll("tbody.finding"));
  var q = document.getElementById("q");
  var severity = document.getElementById("severity");
  var confidence = document.getElementById("confidence");
  var verdict = document.getElementById("verdict");
  var shown = document.getElementById("shown");
  var keys = ["q", "severity", "confidence", "verdict", "provider", "repo", "sort"];

  function readState() {
    var state = {};
    var hash = window.location.hash.replace(/^#/, "");
    hash.split("&").forEach(function (part) {
      if (!part) { return; }
      var i = part.indexOf("=");
      var k = i < 0 ? part : part.slice(0, i);
      var v = i < 0 ? "" : part.slice(i + 1);
      try { v = decodeURIComponent(v.replace(/\+/g, " ")); } catch (e) { return; }
      if (keys.indexOf(k) >= 0) { state[k] = v; }
    });
    return state;
  }

  function writeState(state) {
    var parts = [];
    keys.forEach(function (k) {
      if (state[k]) { parts.push(k + "=" + encodeURIComponent(state[k])); }
    });
    var hash = parts.length ? "#" + parts.join("&") : "";
    if (hash !== window.location.hash) {
      history.replaceState(null, "", hash || window.location.pathname + window.location.search);
    }
    apply(state);
  }

  function compare(key) {
    var desc = key.charAt(0) === "-";
    var k = desc ? key.slice(1) : key;
    var sign = desc ? -1 : 1;
    return function (a, b) {
      var x, y, c = 0;
      if (k === "severity" || k === "confidence" || k === "verdict") {
        x = +a.getAttribute("data-" + k + "-rank");
        y = +b.getAttribute("data-" + k + "-rank");
        c = x - y;
      } else if (k === "line") {
        c = (+a.getAttribute("data-line")) - (+b.getAttribute("data-line"));
      } else {
        x = a.getAttribute("data-" + k) || "";
        y = b.getAttribute("data-" + k) || "";
        c = x < y ? -1 : x > y ? 1 : 0;
        if (c === 0 && k === "path") {
          c = (+a.getAttribute("data-line")) - (+b.getAttribute("data-line"));
        }
      }
      if (c === 0) {
        c = sign * ((+a.getAttribute("data-index")) - (+b.getAttribute("data-index")));
      }
      return sign * c;
    };
  }

  function apply(state) {
    var needle = (state.q || "").toLowerCase();
    if (q.value !== (state.q || "")) { q.value = state.q || ""; }
    severity.value = state.severity || "";
    confidence.value = state.confidence || "";
    verdict.value = state.verdict || "";
    var n = 0;
    rows.forEach(function (row) {
      var ok = (!state.severity || row.getAttribute("data-severity") === state.severity) &&
        (!state.confidence || row.getAttribute("data-confidence") === state.confidence) &&
        (!state.verdict || row.getAttribute("data-verdict") === state.verdict) &&
        (!state.provider || row.getAttribute("data-provider") === state.provider) &&
        (!state.repo || row.getAttribute("data-repo") === state.repo) &&
        (!needle || row.textContent.toLowerCase().indexOf(needle) >= 0);
      row.hidden = !ok;
      row.setAttribute("data-shown", ok ? "1" : "0");
      if (ok) { n += 1; }
    });
    var sorted = rows.slice().sort(compare(state.sort || "index"));
    sorted.forEach(function (row) { table.appendChild(row); });
    var sortKey = (state.sort || "").replace(/^-/, "");
    Array.prototype.forEach.call(table.querySelectorAll("th[data-key]"), function (th) {
      var key = th.getAttribute("data-key");
      th.setAttribute("aria-sort", key !== sortKey ? "none" :
        (state.sort.charAt(0) === "-" ? "descending" : "ascending"));
    });
    shown.textContent = n + " of " + rows.length + " shown";
    table.setAttribute("data-shown", String(n));
  }

  Array.prototype.forEach.call(table.querySelectorAll("th[data-key]"), function (th) {
    th.addEventListener("click", function () {
      var state = readState();
      var key = th.getAttribute("data-key");
      state.sort = state.sort === key ? "-" + key : key;
      writeState(state);
    });
  });
  q.addEventListener("input", function () {
    var state = readState(); state.q = q.value; writeState(state);
  });
  severity.addEventListener("change", function () {
    var state = readState(); state.severity = severity.value; writeState(state);
  });
  confidence.addEventListener("change", function () {
    var state = readState(); state.confidence = confidence.value; writeState(state);
  });
  verdict.addEventListener("change", function () {
    var state = readState(); state.verdict = verdict.value; writeState(state);
  });
  document.getElementById("reset").addEventListener("click", function () { writeState({}); });
  window.addEventListener("hashchange", function () { apply(readState()); });
  apply(readState());
}());
