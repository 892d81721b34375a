import Foundation

// MARK: - Inline CSS and script

extension HTMLReport {
    /// The page style (no `<` or `&`, so it is valid XML text).
    static let css = """
        :root { --ink: #1f2933; --muted: #667085; --line: #d8dee6; --feature: #2b6cb0; --neuron: #dd8a2b; }
        * { box-sizing: border-box; }
        body { font: 14px/1.45 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans CJK SC", sans-serif, "Noto Color Emoji"; color: var(--ink);
               margin: 0 auto; max-width: 1180px; padding: 16px 24px 48px; background: #fbfcfd; }
        h1 { font-size: 22px; margin: 8px 0 4px; } h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
        h3 { font-size: 15px; margin: 18px 0 6px; }
        .run-name { font-family: ui-monospace, Menlo, Consolas, monospace; }
        .meta, .note, figcaption { color: var(--muted); font-size: 13px; }
        code { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12px; background: #eef1f5; padding: 0 3px; border-radius: 3px; }
        nav a { margin-right: 14px; }
        table { border-collapse: collapse; margin: 8px 0; }
        th, td { border-bottom: 1px solid var(--line); padding: 4px 10px; text-align: left; vertical-align: top; }
        table.summary td, table.usage td { text-align: right; font-variant-numeric: tabular-nums; }
        table.summary tbody th { font-weight: normal; color: var(--muted); }
        .rank-test { font-weight: 600; }
        figure { margin: 8px 0; }
        svg.chart { display: block; margin: 4px 0; }
        svg .label, svg .tick-label, svg .count-label { font-size: 11px; fill: var(--muted); }
        svg .chart-title { font-size: 13px; font-weight: 600; fill: var(--ink); }
        svg .axis { stroke: #8a94a3; stroke-width: 1; } svg .grid { stroke: #e7ebf0; stroke-width: 1; }
        svg .grid.zero { stroke: #b8c0cc; } svg .xtick { stroke: #8a94a3; }
        svg .median { stroke-width: 2; stroke-dasharray: 5 3; }
        svg .whisker { stroke-width: 2; } svg .iqr { fill-opacity: 0.35; } svg .box-median { stroke: var(--ink); stroke-width: 2.5; }
        svg .bar:hover { opacity: 0.8; }
        .charts { display: flex; flex-wrap: wrap; gap: 16px; }
        .controls { display: flex; flex-wrap: wrap; gap: 16px; align-items: center; margin: 8px 0; }
        .controls input { width: 260px; padding: 3px 6px; }
        #shown { color: var(--muted); }
        table.index { width: 100%; table-layout: fixed; }
        table.index th:nth-child(1) { width: 120px; } table.index th:nth-child(2), table.index th:nth-child(3),
        table.index th:nth-child(4) { width: 70px; } table.index th:nth-child(5), table.index th:nth-child(6) { width: 90px; }
        table.index td { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
        table.index tr.unit-row { cursor: pointer; } table.index tr.unit-row:hover { background: #eef4fb; }
        table.index tr.open { background: #e4eefa; }
        td.num { text-align: right; font-variant-numeric: tabular-nums; }
        .kind-feature { color: var(--feature); font-weight: 600; } .kind-neuron { color: var(--neuron); font-weight: 600; }
        .kind-neuron_negative { color: #9b2c2c; font-weight: 600; }
        .undef { color: #a94442; font-style: italic; }
        .pager { margin: 8px 0; } .pager button { padding: 2px 10px; }
        td.card-cell { white-space: normal; background: #fff; padding: 12px 16px 16px; border-bottom: 2px solid var(--line); }
        .card h3 { margin-top: 0; } .card .explanation { font-size: 15px; margin: 4px 0 10px; }
        .card-grid { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
        .card table { margin: 0; } .card td, .card th { padding: 2px 8px; }
        .examples { margin-top: 10px; }
        .example { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12.5px; white-space: pre-wrap;
                   word-break: break-word; border-left: 3px solid var(--line); padding: 3px 8px; margin: 4px 0; background: #fcfcfd; }
        .example span.tok { border-radius: 2px; } .example .cut { color: var(--muted); }
        """

    /// The page script: unit index (filter, search, sort, pages) and cards drawn on demand.
    ///
    /// Kept free of `]]>` and of the sequence `</` so it can sit in a CDATA section inside `<script>`.
    static let script = #"""
        (function () {
          "use strict";
          var data = JSON.parse(document.getElementById("report-data").textContent);
          var TOK = data.tokens, UNITS = data.units, PAGE = data.pageSize || 50;
          var SVGNS = "http://www.w3.org/2000/svg";
          var RATING = ["#c9ced6", "#f2c879", "#8cc98a", "#2f8f4e"];
          var state = { kind: "all", q: "", sort: "score-desc", page: 0, open: null, list: [] };

          function el(tag, cls, text) {
            var e = document.createElement(tag);
            if (cls) e.className = cls;
            if (text !== undefined && text !== null) e.textContent = String(text);
            return e;
          }
          function sv(tag, attrs) {
            var e = document.createElementNS(SVGNS, tag);
            for (var k in attrs) e.setAttribute(k, attrs[k]);
            return e;
          }
          function fmt(x, d) { return (x === null || x === undefined) ? "\u2013" : Number(x).toFixed(d); }
          function name(u) { return u.k === "neuron_negative" ? "neuron " + u.i + " (\u2212)" : u.k + " " + u.i; }
          function key(u) { return u.k + "-" + u.i; }

          // Sorting: undefined and missing scores always last.
          function cmpNum(a, b, desc) {
            if (a === null && b === null) return 0;
            if (a === null) return 1;
            if (b === null) return -1;
            return desc ? b - a : a - b;
          }
          function byIndex(a, b) { return a.k === b.k ? a.i - b.i : (a.k > b.k ? 1 : -1); }
          var SORTS = {
            "score-desc": function (a, b) { return cmpNum(a.s, b.s, true) || byIndex(a, b); },
            "score-asc": function (a, b) { return cmpNum(a.s, b.s, false) || byIndex(a, b); },
            "index": byIndex,
            "density-desc": function (a, b) { return cmpNum(a.d, b.d, true) || byIndex(a, b); },
            "max-desc": function (a, b) { return cmpNum(a.m, b.m, true) || byIndex(a, b); }
          };

          function refresh() {
            var q = state.q.trim().toLowerCase();
            state.list = UNITS.filter(function (u) {
              if (state.kind !== "all" && u.k !== state.kind) return false;
              if (!q) return true;
              return name(u).indexOf(q) >= 0 || (u.e || "").toLowerCase().indexOf(q) >= 0;
            });
            state.list.sort(SORTS[state.sort]);
            var pages = Math.max(1, Math.ceil(state.list.length / PAGE));
            if (state.page >= pages) state.page = pages - 1;
            renderRows();
          }

          function renderRows() {
            var body = document.getElementById("unit-rows");
            body.textContent = "";
            var start = state.page * PAGE, slice = state.list.slice(start, start + PAGE);
            slice.forEach(function (u) {
              var tr = el("tr", "unit-row");
              tr.id = "row-" + key(u);
              var unitCell = el("td", "kind-" + u.k, name(u));
              tr.appendChild(unitCell);
              var score = el("td", "num" + (u.s === null ? " undef" : ""), u.s === null ? (u.u ? "undefined" : "\u2013") : fmt(u.s, 3));
              if (u.u) score.title = u.u;
              tr.appendChild(score);
              tr.appendChild(el("td", "num", fmt(u.cs, 3)));
              tr.appendChild(el("td", "num", fmt(u.st, 2)));
              tr.appendChild(el("td", "num", fmt(u.sr, 2)));
              tr.appendChild(el("td", "num", u.d === null ? "\u2013" : (100 * u.d).toFixed(3) + "%"));
              tr.appendChild(el("td", "num", fmt(u.m, 2)));
              var ex = el("td", "", u.e === null ? "(no explanation)" : u.e);
              ex.title = u.e || "";
              tr.appendChild(ex);
              tr.addEventListener("click", function () { toggle(u); });
              body.appendChild(tr);
              if (state.open === key(u)) body.appendChild(cardRow(u));
            });
            var pages = Math.max(1, Math.ceil(state.list.length / PAGE));
            document.getElementById("page").textContent = "page " + (state.page + 1) + " of " + pages;
            document.getElementById("shown").textContent = state.list.length + " of " + UNITS.length + " units";
            document.getElementById("prev").disabled = state.page === 0;
            document.getElementById("next").disabled = state.page >= pages - 1;
          }

          function toggle(u) {
            state.open = state.open === key(u) ? null : key(u);
            if (state.open) history.replaceState(null, "", "#" + state.open);
            renderRows();
          }

          function cardRow(u) {
            var tr = el("tr", "card-row"), td = el("td", "card-cell");
            td.colSpan = 8;
            td.appendChild(card(u));
            tr.appendChild(td);
            var row = document.getElementById("row-" + key(u));
            if (row) row.className += " open";
            return tr;
          }

          function card(u) {
            var c = el("div", "card");
            var h = el("h3", "", name(u));
            h.className = "kind-" + u.k;
            c.appendChild(h);
            var meta = u.x === null ? "no explanation by the report's explainer" :
              "explainer " + u.x + " \u00b7 model " + u.mo + (u.ne > 1 ? " \u00b7 " + u.ne + " explanations (latest shown)" : "");
            c.appendChild(el("div", "note", meta));
            c.appendChild(el("p", "explanation", u.e === null ? "(no explanation)" : u.e));
            var grid = el("div", "card-grid");
            grid.appendChild(scoreTable(u));
            grid.appendChild(statsTable(u));
            grid.appendChild(histogram(u));
            if (u.r.length) grid.appendChild(rubric(u));
            c.appendChild(grid);
            var exs = el("div", "examples");
            exs.appendChild(el("h4", "", "Top examples (shaded by activation; hover a token for its value)"));
            if (!u.ex.length) exs.appendChild(el("p", "note", "no examples stored"));
            var max = u.m > 0 ? u.m : 0;
            u.ex.forEach(function (ex) { ex.a.forEach(function (a) { if (a > max) max = a; }); });
            u.ex.forEach(function (ex) { exs.appendChild(example(ex, max)); });
            c.appendChild(exs);
            return c;
          }

          function scoreTable(u) {
            var t = el("table", "scores"), head = el("tr");
            ["", "all", "top", "random"].forEach(function (s) { head.appendChild(el("th", "", s)); });
            t.appendChild(head);
            ["spearman", "pearson"].forEach(function (m) {
              var tr = el("tr");
              tr.appendChild(el("th", "", m));
              ["all", "top", "random"].forEach(function (s) {
                var row = u.sc.filter(function (r) { return r[0] === m && r[1] === s; })[0];
                var td;
                if (!row) td = el("td", "num", "\u2013");
                else if (row[2] === null) { td = el("td", "num undef", "undefined"); td.title = (row[3] || "") + " (n = " + row[4] + ")"; }
                else { td = el("td", "num", fmt(row[2], 3)); td.title = "n = " + row[4]; }
                tr.appendChild(td);
              });
              t.appendChild(tr);
            });
            return t;
          }

          function statsTable(u) {
            var t = el("table", "stats");
            [["density", u.d === null ? "\u2013" : (100 * u.d).toFixed(4) + "%"], ["max activation", fmt(u.m, 3)],
             ["tokens counted", String(u.n)], ["failed simulations", u.f[0] + " of " + u.f[1]]].forEach(function (p) {
              var tr = el("tr");
              tr.appendChild(el("th", "", p[0]));
              tr.appendChild(el("td", "num", p[1]));
              t.appendChild(tr);
            });
            return t;
          }

          // Activation histogram: the positive bins of (0, max]; the zero count is a label (it dwarfs the rest).
          function histogram(u) {
            var w = 230, hgt = 120, left = 8, base = 96, bins = u.h.slice(1), n = bins.length;
            var s = sv("svg", { width: w, height: hgt, viewBox: "0 0 " + w + " " + hgt, "class": "chart" });
            var top = Math.max.apply(null, bins.concat([1])), slot = (w - 2 * left) / Math.max(1, n);
            bins.forEach(function (count, i) {
              var bh = 76 * count / top;
              var r = sv("rect", { x: left + i * slot + 1, y: base - bh, width: Math.max(1, slot - 2), height: bh, fill: "#7a9cc6", "data-value": count });
              var t = sv("title", {}); t.textContent = "bin " + (i + 1) + ": " + count + " tokens"; r.appendChild(t);
              s.appendChild(r);
            });
            s.appendChild(sv("line", { x1: left, y1: base, x2: w - left, y2: base, "class": "axis" }));
            var l1 = sv("text", { x: left, y: 12, "class": "label" });
            l1.textContent = "activation histogram; " + u.h[0] + " tokens \u2264 0";
            s.appendChild(l1);
            var l2 = sv("text", { x: left, y: base + 14, "class": "tick-label" }); l2.textContent = "0"; s.appendChild(l2);
            var l3 = sv("text", { x: w - left, y: base + 14, "class": "tick-label", "text-anchor": "end" });
            l3.textContent = "max " + fmt(u.m, 2); s.appendChild(l3);
            return s;
          }

          function rubric(u) {
            var w = 250, hgt = 120, left = 8, base = 96, n = u.r.length, slot = (w - 2 * left) / n;
            var s = sv("svg", { width: w, height: hgt, viewBox: "0 0 " + w + " " + hgt, "class": "chart" });
            var l = sv("text", { x: left, y: 12, "class": "label" }); l.textContent = "rubric ratings 0\u20133 per bin"; s.appendChild(l);
            u.r.forEach(function (counts, bin) {
              var total = counts.reduce(function (a, b) { return a + b; }, 0), y = base;
              counts.forEach(function (count, rating) {
                if (!total || !count) return;
                var bh = 76 * count / total;
                y -= bh;
                var r = sv("rect", { x: left + bin * slot + 1, y: y, width: slot - 2, height: bh, fill: RATING[rating], "data-value": count / total });
                var t = sv("title", {}); t.textContent = "bin " + (bin === 0 ? "none" : bin) + ", rating " + rating + ": " + count + " of " + total;
                r.appendChild(t);
                s.appendChild(r);
              });
              var lab = sv("text", { x: left + (bin + 0.5) * slot, y: base + 14, "class": "tick-label", "text-anchor": "middle" });
              lab.textContent = bin === 0 ? "\u2205" : String(bin);
              s.appendChild(lab);
            });
            return s;
          }

          function example(ex, max) {
            var div = el("div", "example");
            if (ex.o > 0) div.appendChild(el("span", "cut", "\u2026 "));
            ex.t.forEach(function (id, i) {
              var a = ex.a[i], text = TOK[id];
              var span = el("span", "tok", text.replace(/\n/g, "\u21b5"));
              var alpha = max > 0 ? Math.max(0, Math.min(1, a / max)) : 0;
              if (alpha > 0) span.style.backgroundColor = "rgba(235, 120, 20, " + (0.08 + 0.8 * alpha).toFixed(3) + ")";
              span.title = JSON.stringify(text) + ": " + a;
              div.appendChild(span);
            });
            if (ex.c > 0) div.appendChild(el("span", "cut", " \u2026"));
            return div;
          }

          document.getElementById("kind-filter").addEventListener("change", function (e) { state.kind = e.target.value; state.page = 0; refresh(); });
          document.getElementById("sort").addEventListener("change", function (e) { state.sort = e.target.value; state.page = 0; refresh(); });
          document.getElementById("search").addEventListener("input", function (e) { state.q = e.target.value; state.page = 0; refresh(); });
          document.getElementById("prev").addEventListener("click", function () { state.page -= 1; renderRows(); });
          document.getElementById("next").addEventListener("click", function () { state.page += 1; renderRows(); });

          // Open the unit named in the address (#feature-12), else the best-scoring unit's card.
          refresh();
          var wanted = location.hash.replace(/^#/, "");
          if (wanted) {
            var at = state.list.map(key).indexOf(wanted);
            if (at >= 0) { state.page = Math.floor(at / PAGE); state.open = wanted; renderRows(); }
          } else if (state.list.length) {
            state.open = key(state.list[0]);
            renderRows();
          }
        })();
        """#
}
