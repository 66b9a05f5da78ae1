/* rtbfast reports: tables that sort, filter and page in the browser. Written for rtbfast,
   no dependency. Each <section class="rt-table"> holds its rows as JSON in a
   <script type="application/json" class="rt-data"> block: {"columns": [...], "types":
   ["num"|"text"|"fdn"], "severity": index or null, "page": rows per page, "rows": [[...]]}.
   Every cell is written with textContent: a value is never read as markup. */
(function () {
  "use strict";
  var collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });
  var SEVERITY = {
    error: "error", breaking: "error", not_taken: "error", mo_missing: "error", unexpected: "error",
    removed: "error", warning: "warning", meaning: "warning", drifted: "warning", changed: "warning",
    info: "info", added: "ok", held: "ok"
  };

  function severityClass(value) {
    return "sev-" + (SEVERITY[String(value)] || "other");
  }

  var NODE_RDN = /^(SubNetwork|MeContext|ManagedElement)=/;

  function breakable(td, text, keep) {
    // a break opportunity after each comma (and ; / > ) ] } |), so an FDN, a list or a path
    // wraps between its parts, never inside a name; and after the equals sign of a part
    // longer than `keep`. A run of 40 characters with none of them may break anywhere.
    var parts = text.match(/[^,;\/>)\]}|]*[,;\/>)\]}|]?/g) || [text];
    var first = true;
    for (var i = 0; i < parts.length; i++) {
      var part = parts[i];
      if (!part) continue;
      var at = part.length > keep ? part.indexOf("=") + 1 : 0;
      if (!first) td.appendChild(document.createElement("wbr"));
      first = false;
      if (at > 0 && at < part.length) {
        td.appendChild(document.createTextNode(part.slice(0, at)));
        td.appendChild(document.createElement("wbr"));
        part = part.slice(at);
      }
      td.appendChild(document.createTextNode(part));
    }
    if (/[^\s,;\/>)\]}|=]{40}/.test(text)) td.classList.add("long");
  }

  function shortMo(text) {
    // the MO below its node (the node has a column of its own): the whole FDN on hover
    var parts = text.split(",");
    var i = 0;
    while (i < parts.length - 1 && NODE_RDN.test(parts[i])) i++;
    return i === 0 ? text : "\u2026" + parts.slice(i).join(",");
  }

  var LONG = 160;

  function fill(td, value, type) {
    var text = value === null || value === undefined ? "" : String(value);
    if (type === "num") {
      td.className = "n";
      td.textContent = typeof value === "number" ? value.toLocaleString("en") : text;
      return;
    }
    var shown = type === "mo" ? shortMo(text) : type === "node" ? text.replace(NODE_RDN, "") : text;
    if (type === "code") td.classList.add("code");
    else if (shown.length > LONG) shown = shown.slice(0, LONG) + "\u2026";
    if (shown !== text || text.length > 40) td.title = text;
    if (type === "pre") td.classList.add("pre");
    breakable(td, shown, type === "mo" || type === "fdn" ? 30 : 20);
  }

  function compare(type) {
    if (type === "num") {
      return function (a, b) {
        var x = a === null || a === "" ? -Infinity : Number(a);
        var y = b === null || b === "" ? -Infinity : Number(b);
        return x < y ? -1 : x > y ? 1 : 0;
      };
    }
    return function (a, b) {
      return collator.compare(a === null ? "" : String(a), b === null ? "" : String(b));
    };
  }

  function setup(section) {
    var data = JSON.parse(section.querySelector("script.rt-data").textContent);
    var table = section.querySelector("table");
    var head = table.tHead.rows[0];
    var body = table.tBodies[0];
    var filterBox = section.querySelector("input.rt-filter");
    var sevBox = section.querySelector("select.rt-severity");
    var count = section.querySelector(".rt-count");
    var pageLabel = section.querySelector(".rt-page");
    var pager = section.querySelector(".rt-pager");
    var size = data.page || 100;
    var rows = data.rows.map(function (r, i) {
      return { cells: r, order: i, text: r.map(function (c) { return c === null ? "" : String(c); }).join("\u0001").toLowerCase() };
    });
    var shown = rows;
    var page = 0;
    var sortColumn = -1;
    var sortDirection = 1;

    if (sevBox && data.severity !== null) {
      var seen = {};
      rows.forEach(function (r) { seen[r.cells[data.severity]] = true; });
      Object.keys(seen).sort(collator.compare).forEach(function (v) {
        var option = document.createElement("option");
        option.value = v;
        option.textContent = v;
        sevBox.appendChild(option);
      });
    }

    function render() {
      var pages = Math.max(1, Math.ceil(shown.length / size));
      if (page >= pages) page = pages - 1;
      if (page < 0) page = 0;
      var fragment = document.createDocumentFragment();
      var end = Math.min(shown.length, (page + 1) * size);
      for (var i = page * size; i < end; i++) {
        var r = shown[i];
        var tr = document.createElement("tr");
        if (data.severity !== null) tr.className = severityClass(r.cells[data.severity]);
        for (var c = 0; c < r.cells.length; c++) {
          var td = document.createElement("td");
          fill(td, r.cells[c], data.types[c]);
          if (c === data.severity) td.classList.add("sev");
          tr.appendChild(td);
        }
        fragment.appendChild(tr);
      }
      body.textContent = "";
      body.appendChild(fragment);
      count.textContent = shown.length === rows.length
        ? rows.length.toLocaleString("en") + " rows"
        : shown.length.toLocaleString("en") + " of " + rows.length.toLocaleString("en") + " rows";
      pageLabel.textContent = "page " + (page + 1) + " of " + pages;
      pager.hidden = pages < 2;
      pager.querySelector("[data-go=first]").disabled = pager.querySelector("[data-go=prev]").disabled = page === 0;
      pager.querySelector("[data-go=last]").disabled = pager.querySelector("[data-go=next]").disabled = page >= pages - 1;
    }

    function apply() {
      var words = filterBox.value.toLowerCase().split(/\s+/).filter(Boolean);
      var severity = sevBox ? sevBox.value : "";
      shown = rows.filter(function (r) {
        if (severity && String(r.cells[data.severity]) !== severity) return false;
        for (var i = 0; i < words.length; i++) if (r.text.indexOf(words[i]) < 0) return false;
        return true;
      });
      if (sortColumn >= 0) sortRows();
      page = 0;
      render();
    }

    function sortRows() {
      var cmp = compare(data.types[sortColumn]);
      var column = sortColumn;
      var direction = sortDirection;
      shown = shown.slice().sort(function (a, b) {
        return direction * cmp(a.cells[column], b.cells[column]) || a.order - b.order;
      });
    }

    Array.prototype.forEach.call(head.cells, function (th, i) {
      th.tabIndex = 0;
      th.title = "sort by " + th.textContent + " (click again: the other way)";
      th.setAttribute("aria-sort", "none");
      function sort() {
        sortDirection = sortColumn === i ? -sortDirection : 1;
        sortColumn = i;
        Array.prototype.forEach.call(head.cells, function (other) { other.setAttribute("aria-sort", "none"); });
        th.setAttribute("aria-sort", sortDirection > 0 ? "ascending" : "descending");
        sortRows();
        page = 0;
        render();
      }
      th.addEventListener("click", sort);
      th.addEventListener("keydown", function (e) { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sort(); } });
    });
    filterBox.addEventListener("input", apply);
    if (sevBox) sevBox.addEventListener("change", apply);
    pager.addEventListener("click", function (e) {
      var go = e.target.getAttribute && e.target.getAttribute("data-go");
      if (!go) return;
      var pages = Math.max(1, Math.ceil(shown.length / size));
      page = go === "first" ? 0 : go === "prev" ? page - 1 : go === "next" ? page + 1 : pages - 1;
      render();
    });
    render();
    section.setAttribute("data-ready", "1");
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("section.rt-table"), setup);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
