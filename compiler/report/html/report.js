// report.html's script: written for hplanc, no library. Everything it acts on is
// already in the page (static HTML and SVG); it adds interaction only.
"use strict";
(function () {
  document.documentElement.classList.add("js");
  var dataEl = document.getElementById("hplanc-data");
  var data = dataEl ? JSON.parse(dataEl.textContent) : { plans: [] };

  function fmt(v, digits) {
    if (v === null || v === undefined || !isFinite(v)) return "n/a";
    var a = Math.abs(v);
    if (a >= 1e6) return (v / 1e6).toFixed(2) + "M";
    if (a >= 1e4) return Math.round(v).toLocaleString("en-US");
    if (a >= 100) return v.toFixed(0);
    return v.toFixed(digits === undefined ? 2 : digits);
  }
  function time(s) {
    if (!isFinite(s)) return "n/a";
    if (s === 0) return "0";
    var a = Math.abs(s);
    if (a >= 1) return s.toFixed(a >= 10 ? 1 : 2) + " s";
    if (a >= 1e-3) return (s * 1e3).toFixed(a >= 1e-2 ? 1 : 2) + " ms";
    if (a >= 1e-6) return (s * 1e6).toFixed(a >= 1e-5 ? 1 : 2) + " µs";
    return (s * 1e9).toFixed(0) + " ns";
  }
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }

  // ---- the frontier: hover, pin, toggle series, one panel at a time ----
  var chart = document.querySelector("#frontier .chart");
  if (chart) {
    var svg = chart.querySelector("svg");
    var tip = document.getElementById("tip");
    var pinned = document.getElementById("pinned");
    var fullBox = svg.getAttribute("viewBox");

    function point(mark) {
      var s = +mark.getAttribute("data-s"), i = +mark.getAttribute("data-i");
      var plan = data.plans[s];
      return plan ? { plan: plan.name, p: plan.frontier[i], key: s + ":" + i } : null;
    }
    function describe(box, pt) {
      var p = pt.p;
      box.appendChild(el("b", pt.plan + " at concurrency " + p.concurrency));
      var lines = [
        fmt(p.tokens_per_s_per_user) + " tokens/s per user, TTFT " + time(p.ttft_s),
        fmt(p.throughput_per_chip) + " tokens/s per chip on " + p.chips + " chips",
        (p.cost_per_mtok_usd === null ? "no price" : "$" + p.cost_per_mtok_usd.toFixed(3) + "/Mtok") + ", " +
          (p.tokens_per_s_per_mw === null ? "no power figure" : fmt(p.tokens_per_s_per_mw) + " tokens/s per MW"),
        p.placement
      ];
      lines.forEach(function (l) { box.appendChild(el("div", l)); });
    }
    function showTip(mark, ev) {
      var pt = point(mark);
      if (!pt) return;
      tip.textContent = "";
      describe(tip, pt);
      tip.hidden = false;
      var r = chart.getBoundingClientRect();
      var x = ev.clientX - r.left + 14, y = ev.clientY - r.top + 14;
      var w = tip.offsetWidth;
      if (x + w > r.width) x = Math.max(0, ev.clientX - r.left - w - 14);
      tip.style.left = x + "px";
      tip.style.top = y + "px";
    }
    svg.addEventListener("mouseover", function (ev) {
      var m = ev.target.closest ? ev.target.closest(".pt") : null;
      if (m) showTip(m, ev);
    });
    svg.addEventListener("mousemove", function (ev) {
      var m = ev.target.closest ? ev.target.closest(".pt") : null;
      if (m) showTip(m, ev); else tip.hidden = true;
    });
    svg.addEventListener("mouseleave", function () { tip.hidden = true; });
    svg.addEventListener("click", function (ev) {
      var m = ev.target.closest ? ev.target.closest(".pt") : null;
      if (!m) return;
      var pt = point(m);
      if (!pt) return;
      var marks = svg.querySelectorAll('.pt[data-s="' + m.getAttribute("data-s") + '"][data-i="' + m.getAttribute("data-i") + '"]');
      var existing = pinned.querySelector('li[data-key="' + pt.key + '"]');
      if (existing) {
        existing.remove();
        marks.forEach(function (x) { x.classList.remove("pinned"); });
        return;
      }
      var li = el("li");
      li.setAttribute("data-key", pt.key);
      describe(li, pt);
      pinned.appendChild(li);
      marks.forEach(function (x) { x.classList.add("pinned"); });
    });
    document.querySelectorAll("#frontier input[data-s]").forEach(function (box) {
      box.addEventListener("change", function () {
        var s = box.getAttribute("data-s");
        svg.querySelectorAll('.series[data-s="' + s + '"]').forEach(function (g) {
          g.classList.toggle("off", !box.checked);
        });
        tip.hidden = true;
      });
    });
    var panelButtons = document.querySelectorAll("#frontier button[data-panel]");
    panelButtons.forEach(function (b) {
      b.addEventListener("click", function () {
        var box = b.getAttribute("data-box");
        if (box) {
          var p = box.split(" "), vb = fullBox.split(" ");
          svg.setAttribute("viewBox", p[0] + " " + vb[1] + " " + p[1] + " " + vb[3]);
        } else {
          svg.setAttribute("viewBox", fullBox);
        }
        panelButtons.forEach(function (o) {
          o.setAttribute("aria-pressed", o === b ? "true" : "false");
        });
      });
    });
    // three panels side by side are too small to read on a phone: start with one
    if (window.matchMedia && window.matchMedia("(max-width: 700px)").matches && panelButtons[1]) panelButtons[1].click();
  }

  // ---- the timelines: zoom and pan by redrawing from each operation's times ----
  var SVGNS = "http://www.w3.org/2000/svg";
  document.querySelectorAll("figure.timeline").forEach(function (fig) {
    var svg = fig.querySelector("svg.tl");
    var span = +svg.getAttribute("data-span");
    var left = +svg.getAttribute("data-left"), width = +svg.getAttribute("data-width");
    var top = +svg.getAttribute("data-top");
    var axis = svg.querySelector("g.axis"), axisY = +axis.getAttribute("data-y");
    var ops = svg.querySelectorAll(".op");
    var reported = svg.querySelector(".reported");
    var range = fig.querySelector(".range");
    var view = { a: 0, b: span };
    function nice(raw) {
      var p = Math.pow(10, Math.floor(Math.log10(raw)));
      var m = [1, 2, 5, 10].find(function (k) { return k * p >= raw * (1 - 1e-9); });
      return (m || 10) * p;
    }
    function x(t) { return left + (t - view.a) / (view.b - view.a) * width; }
    function draw() {
      var k = width / (view.b - view.a);
      ops.forEach(function (r) {
        var t = +r.getAttribute("data-t"), d = +r.getAttribute("data-d");
        r.setAttribute("x", x(t).toFixed(2));
        r.setAttribute("width", Math.max(0.5, d * k).toFixed(2));
      });
      if (reported) {
        var rx = x(+reported.getAttribute("data-t"));
        reported.setAttribute("x1", rx.toFixed(1));
        reported.setAttribute("x2", rx.toFixed(1));
        reported.style.display = rx < left || rx > left + width ? "none" : "";
      }
      while (axis.firstChild) axis.removeChild(axis.firstChild);
      var step = nice((view.b - view.a) / 5);
      for (var t = Math.ceil(view.a / step) * step; t <= view.b * (1 + 1e-9); t += step) {
        var line = document.createElementNS(SVGNS, "line");
        var tx = x(t).toFixed(1);
        line.setAttribute("x1", tx); line.setAttribute("x2", tx);
        line.setAttribute("y1", top); line.setAttribute("y2", axisY);
        var label = document.createElementNS(SVGNS, "text");
        label.setAttribute("x", tx); label.setAttribute("y", axisY + 16);
        label.setAttribute("text-anchor", "middle");
        label.textContent = time(t);
        axis.appendChild(line); axis.appendChild(label);
      }
      range.textContent = time(view.a) + " – " + time(view.b);
      fig.setAttribute("data-view", view.a + " " + view.b);
    }
    function zoom(f, at) {
      var w = (view.b - view.a) * f;
      if (w > span) w = span;
      if (w < span * 1e-4) w = span * 1e-4;
      var c = at === undefined ? (view.a + view.b) / 2 : at;
      var frac = (c - view.a) / (view.b - view.a);
      view.a = c - frac * w;
      view.b = view.a + w;
      clamp();
      draw();
    }
    function clamp() {
      var w = view.b - view.a;
      if (view.a < 0) { view.a = 0; view.b = w; }
      if (view.b > span) { view.b = span; view.a = span - w; }
    }
    fig.querySelectorAll("button[data-zoom]").forEach(function (b) {
      b.addEventListener("click", function () {
        var z = b.getAttribute("data-zoom"), w = view.b - view.a;
        if (z === "in") zoom(0.5);
        else if (z === "out") zoom(2);
        else if (z === "left") { view.a -= w / 4; view.b -= w / 4; clamp(); draw(); }
        else if (z === "right") { view.a += w / 4; view.b += w / 4; clamp(); draw(); }
        else { view = { a: 0, b: span }; draw(); }
      });
    });
    svg.addEventListener("wheel", function (ev) {
      var r = svg.getBoundingClientRect();
      var sx = (ev.clientX - r.left) / r.width * svg.viewBox.baseVal.width;
      if (sx < left || sx > left + width) return;
      ev.preventDefault();
      zoom(ev.deltaY < 0 ? 0.8 : 1.25, view.a + (sx - left) / width * (view.b - view.a));
    }, { passive: false });
  });

  // ---- build --watch: reload when a new build's stamp appears in watch.js ----
  var stamp = document.documentElement.getAttribute("data-watch");
  if (stamp) {
    var n = 0;
    window.hplancWatch = function (s) { if (s !== stamp) location.reload(); };
    setInterval(function () {
      var old = document.getElementById("hplanc-watch");
      if (old) old.remove();
      var s = document.createElement("script");
      s.id = "hplanc-watch";
      s.src = "watch.js?" + (n++);
      document.head.appendChild(s);
    }, 500);
  }
})();
