"""The report's one script: sortable tables and filter boxes, inline in the
page under a Content-Security-Policy that allows this script's SHA-256 alone
(``csp_hash``), so any other script (a tampered copy included) is refused.

What it does, with no network and no other script:

* a click (or Enter) on a header of a ``table.sortable`` sorts its rows by
  that column (numbers by ``data-value``, text as text), a second click
  reverses; the header's ``aria-sort`` says how it is sorted;
* typing in an ``input.filter`` (``data-table`` names the table) keeps the
  rows whose text holds what was typed (case-insensitive) and says how many;
* a URL fragment ``#sort=TABLE:COLUMN:asc|desc&filter=TABLE:TEXT`` applies a
  sort and a filter at load (a link to a sorted, filtered view; the browser
  tests use it too).
"""

from __future__ import annotations

import base64
import hashlib

SCRIPT = """
(function () {
  "use strict";
  var each = function (list, action) { Array.prototype.forEach.call(list, action); };
  function cellValue(row, index) {
    var cell = row.cells[index];
    if (!cell) { return ""; }
    var value = cell.getAttribute("data-value");
    return value === null ? cell.textContent : value;
  }
  function sortTable(table, index, direction) {
    var head = table.tHead.rows[0].cells[index];
    if (!head) { return; }
    var numeric = head.classList.contains("num");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (x, y) {
      var a = cellValue(x, index), b = cellValue(y, index);
      var order = numeric ? Number(a) - Number(b) : (a < b ? -1 : (a > b ? 1 : 0));
      return direction === "desc" ? -order : order;
    });
    each(rows, function (row) { body.appendChild(row); });
    each(table.tHead.rows[0].cells, function (cell, at) {
      var sorted = direction === "desc" ? "descending" : "ascending";
      cell.setAttribute("aria-sort", at === index ? sorted : "none");
    });
    table.setAttribute("data-sorted", index + ":" + direction);
  }
  function filterTable(table, text) {
    var needle = text.toLowerCase(), shown = 0;
    each(table.tBodies[0].rows, function (row) {
      var keep = row.textContent.toLowerCase().indexOf(needle) >= 0;
      row.hidden = !keep;
      shown += keep ? 1 : 0;
    });
    table.setAttribute("data-shown", String(shown));
    var count = document.getElementById(table.id + "-shown");
    if (count) { count.textContent = shown + " of " + table.tBodies[0].rows.length + " rows"; }
  }
  each(document.querySelectorAll("table.sortable"), function (table) {
    each(table.tHead.rows[0].cells, function (cell, index) {
      cell.tabIndex = 0;
      var sort = function () {
        var now = table.getAttribute("data-sorted");
        var first = cell.classList.contains("num") ? "desc" : "asc";
        var direction = now === index + ":" + first ? (first === "asc" ? "desc" : "asc") : first;
        sortTable(table, index, direction);
      };
      cell.addEventListener("click", sort);
      cell.addEventListener("keydown", function (event) {
        if (event.key === "Enter") { sort(); }
      });
    });
  });
  each(document.querySelectorAll("input.filter"), function (input) {
    var table = document.getElementById(input.getAttribute("data-table"));
    if (table) {
      input.addEventListener("input", function () { filterTable(table, input.value); });
    }
  });
  each(window.location.hash.replace(/^#/, "").split("&"), function (part) {
    var pair = part.split("="), args = decodeURIComponent(pair.slice(1).join("=")).split(":");
    var table = document.getElementById(args[0]);
    if (!table || !table.classList.contains("sortable")) { return; }
    if (pair[0] === "sort") {
      sortTable(table, Number(args[1]), args[2] === "desc" ? "desc" : "asc");
    } else if (pair[0] === "filter") {
      var text = args.slice(1).join(":");
      var input = document.querySelector('input.filter[data-table="' + table.id + '"]');
      if (input) { input.value = text; }
      filterTable(table, text);
    }
  });
})();
"""


def csp_hash(script: str = SCRIPT) -> str:
    """The CSP source that allows ``script`` (the exact text between its tags)."""
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"
