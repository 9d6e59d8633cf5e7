/* ModelDB UI: small SVG charts, the lineage graph and keyboard help. No library, no network
   beyond this app's own /api/. Every recorded value is set as text (textContent / attributes),
   never parsed as HTML. */
(function () {
  "use strict";
  var base = document.body.getAttribute("data-base") || "";
  var NS = "http://www.w3.org/2000/svg";

  function svg(tag, attrs, parent) {
    var node = document.createElementNS(NS, tag);
    for (var k in attrs) if (Object.prototype.hasOwnProperty.call(attrs, k)) node.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(node);
    return node;
  }
  function text(tag, value, attrs, parent) {
    var node = svg(tag, attrs, parent);
    node.textContent = value;
    return node;
  }
  function enc(v) { return encodeURIComponent(v); }
  function num(v) {
    if (typeof v === "number") return v;
    if (v === "NaN") return NaN;
    if (v === "Infinity") return Infinity;
    if (v === "-Infinity") return -Infinity;
    return Number(v);
  }
  function isNumber(v) { return typeof v === "number" && isFinite(v); }
  function fmt(v) {
    if (typeof v !== "number") return String(v);
    if (!isFinite(v)) return String(v);
    var a = Math.abs(v);
    if (a !== 0 && (a >= 1e6 || a < 1e-3)) return v.toExponential(3);
    return String(Math.round(v * 10000) / 10000);
  }
  function show(v) {
    if (v === null || v === undefined) return "";
    if (typeof v === "object") return JSON.stringify(v);
    return String(v);
  }
  function utc(ms, withSeconds) {
    var s = new Date(ms).toISOString().replace("T", " ");
    return withSeconds ? s.slice(0, 19) : s.slice(0, 16);
  }
  function message(container, words) {
    container.textContent = "";
    var p = document.createElement("p");
    p.className = "muted";
    p.textContent = words;
    container.appendChild(p);
  }
  function getJSON(path) {
    return fetch(base + path, { headers: { Accept: "application/json" } }).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) throw new Error((body && body.error && body.error.message) || ("HTTP " + r.status));
        return body;
      });
    });
  }

  // -- tooltip ------------------------------------------------------------
  var tip = document.getElementById("tooltip");
  function showTip(lines, event) {
    if (!tip) return;
    tip.textContent = "";
    lines.forEach(function (line, i) {
      var div = document.createElement("div");
      if (i === 0) div.className = "tip-title";
      div.textContent = line;
      tip.appendChild(div);
    });
    tip.hidden = false;
    var x = event.clientX + 14, y = event.clientY + 14;
    var w = tip.offsetWidth, h = tip.offsetHeight;
    if (x + w > window.innerWidth - 8) x = event.clientX - w - 14;
    if (y + h > window.innerHeight - 8) y = event.clientY - h - 14;
    tip.style.left = Math.max(4, x) + "px";
    tip.style.top = Math.max(4, y) + "px";
  }
  function hideTip() { if (tip) tip.hidden = true; }

  // -- scales and ticks ------------------------------------------------------
  function niceTicks(lo, hi, count) {
    if (lo === hi) { lo -= 1; hi += 1; }
    var step = Math.pow(10, Math.floor(Math.log10((hi - lo) / count)));
    var err = (hi - lo) / count / step;
    if (err >= 7.5) step *= 10; else if (err >= 3.5) step *= 5; else if (err >= 1.5) step *= 2;
    var ticks = [];
    for (var t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push(Math.round(t / step) * step);
    return ticks;
  }
  var TIME_STEPS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 5, 15, 30, 60, 300, 900, 1800, 3600, 10800, 21600, 43200, 86400, 604800, 2592000, 31536000];
  function timeTicks(lo, hi, count) {
    var span = (hi - lo) / 1000, step = TIME_STEPS[TIME_STEPS.length - 1];
    for (var i = 0; i < TIME_STEPS.length; i++) if (span / TIME_STEPS[i] <= count) { step = TIME_STEPS[i]; break; }
    var ms = step * 1000, ticks = [];
    for (var t = Math.ceil(lo / ms) * ms; t <= hi; t += ms) ticks.push(t);
    return { ticks: ticks, withSeconds: step < 60, withMillis: step < 1 };
  }
  function extent(values) {
    var lo = Infinity, hi = -Infinity;
    values.forEach(function (v) { if (isNumber(v)) { if (v < lo) lo = v; if (v > hi) hi = v; } });
    if (lo === Infinity) return [0, 1];
    if (lo === hi) { var pad = Math.abs(lo) * 0.05 || 1; return [lo - pad, hi + pad]; }
    var p = (hi - lo) * 0.04;
    return [lo - p, hi + p];
  }

  /* One chart: points {x, y, tip: [lines], href}. opts: xKind "number" | "time" | "category",
     categories, xLabel, yLabel, line (draw a path), height. */
  function chart(container, points, opts) {
    container.textContent = "";
    var width = Math.max(320, container.clientWidth || 800), height = opts.height || 320;
    var m = { left: 64, right: 16, top: 12, bottom: 44 };
    var root = svg("svg", { width: width, height: height, viewBox: "0 0 " + width + " " + height,
      role: "img", class: "plot" }, container);
    var shown = points.filter(function (p) { return isNumber(p.y) && (opts.xKind === "category" || isNumber(p.x)); });
    var dropped = points.length - shown.length;
    var xs = extent(shown.map(function (p) { return p.x; }));
    if (opts.xKind === "category") xs = [-0.5, Math.max(0.5, opts.categories.length - 0.5)];
    var ys = extent(shown.map(function (p) { return p.y; }));
    var X = function (v) { return m.left + (v - xs[0]) / (xs[1] - xs[0]) * (width - m.left - m.right); };
    var Y = function (v) { return height - m.bottom - (v - ys[0]) / (ys[1] - ys[0]) * (height - m.top - m.bottom); };
    var axes = svg("g", { class: "axes" }, root);
    niceTicks(ys[0], ys[1], 5).forEach(function (t) {
      if (t < ys[0] || t > ys[1]) return;
      svg("line", { x1: m.left, x2: width - m.right, y1: Y(t), y2: Y(t), class: "grid-line" }, axes);
      text("text", fmt(t), { x: m.left - 6, y: Y(t) + 4, "text-anchor": "end" }, axes);
    });
    if (opts.xKind === "time") {
      var tt = timeTicks(xs[0], xs[1], Math.max(2, Math.floor(width / 140)));
      tt.ticks.forEach(function (t) {
        if (X(t) > width - m.right - 40) return;  // a label cut by the edge reads wrong
        var label = tt.withMillis ? new Date(t).toISOString().slice(11, 23) : utc(t, tt.withSeconds);
        text("text", label, { x: X(t), y: height - m.bottom + 16, "text-anchor": "middle" }, axes);
      });
    } else if (opts.xKind === "category") {
      var every = Math.max(1, Math.ceil(opts.categories.length / Math.floor(width / 90)));
      opts.categories.forEach(function (c, i) {
        if (i % every) return;
        var label = c.length > 14 ? c.slice(0, 13) + "…" : c;
        text("text", label, { x: X(i), y: height - m.bottom + 16, "text-anchor": "middle" }, axes);
      });
    } else {
      niceTicks(xs[0], xs[1], Math.max(2, Math.floor(width / 110))).forEach(function (t) {
        if (t < xs[0] || t > xs[1]) return;
        text("text", fmt(t), { x: X(t), y: height - m.bottom + 16, "text-anchor": "middle" }, axes);
      });
    }
    svg("line", { x1: m.left, x2: width - m.right, y1: height - m.bottom, y2: height - m.bottom, class: "axis" }, axes);
    svg("line", { x1: m.left, x2: m.left, y1: m.top, y2: height - m.bottom, class: "axis" }, axes);
    text("text", opts.xLabel || "", { x: (m.left + width - m.right) / 2, y: height - 6, "text-anchor": "middle", class: "label" }, axes);
    text("text", opts.yLabel || "", { x: -(m.top + height - m.bottom) / 2, y: 14, transform: "rotate(-90)", "text-anchor": "middle", class: "label" }, axes);
    if (opts.best && shown.length > 1) {
      // The best value so far, as a step line: when did the project actually improve?
      var sorted = shown.slice().sort(function (a, b) { return a.x - b.x; }), best = null, steps = [];
      sorted.forEach(function (p) {
        var better = best === null || (opts.best === "min" ? p.y < best : p.y > best);
        if (better) {
          if (best !== null) steps.push("L" + X(p.x).toFixed(1) + " " + Y(best).toFixed(1));
          best = p.y;
          steps.push((steps.length ? "L" : "M") + X(p.x).toFixed(1) + " " + Y(best).toFixed(1));
        }
      });
      steps.push("L" + X(sorted[sorted.length - 1].x).toFixed(1) + " " + Y(best).toFixed(1));
      svg("path", { d: steps.join(""), class: "best" }, root);
    }
    if (opts.line && shown.length > 1) {
      var d = shown.map(function (p, i) { return (i ? "L" : "M") + X(p.x).toFixed(1) + " " + Y(p.y).toFixed(1); }).join("");
      svg("path", { d: d, class: "series" }, root);
    }
    var dots = svg("g", { class: "dots" }, root);
    if (!opts.line || shown.length <= 400) {
      shown.forEach(function (p, i) {
        var c = svg("circle", { cx: X(p.x).toFixed(1), cy: Y(p.y).toFixed(1), r: opts.line ? 2.5 : 4,
          "data-i": i, class: "dot" + (p.status ? " " + p.status : "") }, dots);
        if (p.href) c.setAttribute("data-href", p.href);
      });
    }
    var hovered = null;
    dots.addEventListener("mousemove", function (event) {
      var i = event.target.getAttribute("data-i");
      if (i === null) { hovered = null; return hideTip(); }
      var p = shown[+i];
      hovered = p;
      showTip(p.tip, event);
      if (p.more) p.more().then(function (lines) {
        if (hovered === p) showTip(p.tip.concat(lines), event);
      }, function () { /* the tooltip keeps what it has */ });
    });
    dots.addEventListener("mouseleave", function () { hovered = null; hideTip(); });
    dots.addEventListener("click", function (event) {
      var href = event.target.getAttribute("data-href");
      if (href) window.location.href = href;
    });
    if (dropped) {
      var note = document.createElement("p");
      note.className = "muted";
      note.textContent = dropped + " point(s) not drawn (NaN, infinite or missing).";
      container.appendChild(note);
    }
    return root;
  }

  function runTip(p, metric, value) {
    return [p.name + "  #" + p.run_id, metric + " = " + fmt(value), utc(p.started_at * 1000, true) + " UTC · " + p.status];
  }

  // -- project page ------------------------------------------------------------
  var paramsCache = {};
  /* A run's params, fetched when its point is first hovered (the points themselves stay small).
     An evaluation of a model shows the params of the run that trained it (docs/models.md). */
  function paramLines(runId, trainedBy) {
    var source = trainedBy || runId;
    if (!paramsCache[source]) paramsCache[source] = getJSON("/api/runs/" + enc(source)).then(function (d) {
      var keys = Object.keys(d.params).sort();
      var head = trainedBy ? ["params of the training run " + d.run.name + "  #" + trainedBy] : [];
      if (!keys.length) return head.concat(["(no params)"]);
      return head.concat(keys.map(function (k) {
        var v = show(d.params[k]);
        return k + " = " + (v.length > 60 ? v.slice(0, 59) + "…" : v);
      }));
    });
    return paramsCache[source];
  }

  function pointsOf(project, metric, query) {
    return getJSON("/api/projects/" + enc(project) + "/points?metric=" + enc(metric) + (query || "")).then(function (data) {
      var c = data.points, out = [];
      out.goal = data.goal;
      for (var i = 0; i < data.count; i++) {
        var p = { run_id: c.run_id[i], name: c.name[i], status: c.status[i], started_at: c.started_at[i],
                  params: c.params ? c.params[i] : {}, trained_by: c.trained_by ? c.trained_by[i] : null };
        var y = num(c.value[i]);
        out.push({ x: p.started_at * 1000, y: y, status: p.status, href: base + "/runs/" + p.run_id,
                   tip: runTip(p, metric, y), raw: p, more: paramLines.bind(null, p.run_id, p.trained_by) });
      }
      return out;
    });
  }

  /* Params worth a meta-analysis, best first: set on 2+ runs with 2+ values and not file paths;
     a number that takes many values on many runs beats a flag or a label. */
  function candidateParams(pts) {
    var stats = {};
    pts.forEach(function (p) {
      Object.keys(p.raw.params || {}).forEach(function (k) {
        var v = p.raw.params[k], st = stats[k] || (stats[k] = { n: 0, values: {}, numeric: true, path: false });
        st.n += 1;
        st.values[show(v)] = 1;
        if (!isNumber(v)) st.numeric = false;
        if (typeof v === "string" && (v.indexOf("://") > 0 || v.charAt(0) === "/")) st.path = true;
      });
    });
    var found = [];
    Object.keys(stats).forEach(function (k) {
      var st = stats[k], distinct = Object.keys(st.values).length;
      if (st.n < 2 || distinct < 2 || st.path) return;
      found.push({ param: k, score: Math.min(distinct, 10) * st.n * (st.numeric ? 2 : 1) });
    });
    return found.sort(function (a, b) { return (b.score - a.score) || (a.param < b.param ? -1 : 1); });
  }

  function projectPage() {
    var timeline = document.getElementById("timeline");
    var meta = document.getElementById("meta");
    if (!timeline) return;
    var project = timeline.getAttribute("data-project"), metric = timeline.getAttribute("data-metric");
    message(timeline, "Loading…");
    pointsOf(project, metric).then(function (pts) {
      chart(timeline, pts, { xKind: "time", xLabel: "run start (UTC)", yLabel: metric, best: pts.goal });
      timeline.setAttribute("data-points", String(pts.length));
    }).catch(function (err) { message(timeline, "Cannot load the timeline: " + err.message); });
    if (meta) metaPanel(meta, project);
  }

  function rawExtent(values) {
    var lo = Math.min.apply(null, values), hi = Math.max.apply(null, values);
    return lo === hi ? [lo - 1, hi + 1] : [lo, hi];
  }

  /* Parallel coordinates: one vertical axis per varying hyperparameter (up to six) and the
     metric last; one line per run, colored from worst (blue) to best (green). */
  function parallelPanel(meta, project, metric) {
    message(meta, "Loading…");
    return pointsOf(project, metric, "&limit=2000&all_params=true").then(function (pts) {
      var dims = candidateParams(pts).slice(0, 6).map(function (c) { return c.param; });
      if (!dims.length) return message(meta, "No hyperparameter varies across the runs that logged " + metric + ".");
      var runs = pts.filter(function (p) {
        return isNumber(p.y) && dims.every(function (d) { return Object.prototype.hasOwnProperty.call(p.raw.params, d); });
      });
      if (runs.length < 2) return message(meta, "Too few runs have all of " + dims.join(", ") + " and " + metric + ".");
      var axes = dims.map(function (d) {
        var values = runs.map(function (p) { return p.raw.params[d]; });
        if (values.every(isNumber)) {
          var e = rawExtent(values);
          return { name: d, at: function (p) { return (p.raw.params[d] - e[0]) / (e[1] - e[0]); }, lo: fmt(e[0]), hi: fmt(e[1]) };
        }
        var cats = Object.keys(values.reduce(function (acc, v) { acc[show(v)] = 1; return acc; }, {})).sort();
        return { name: d, at: function (p) { return cats.length < 2 ? 0.5 : cats.indexOf(show(p.raw.params[d])) / (cats.length - 1); },
                 lo: cats[0], hi: cats[cats.length - 1] };
      });
      var ye = rawExtent(runs.map(function (p) { return p.y; }));
      axes.push({ name: metric, metric: true, at: function (p) { return (p.y - ye[0]) / (ye[1] - ye[0]); }, lo: fmt(ye[0]), hi: fmt(ye[1]) });
      meta.textContent = "";
      var width = Math.max(480, meta.clientWidth || 800), height = 350, m = { left: 40, right: 40, top: 40, bottom: 30 };
      var root = svg("svg", { width: width, height: height, viewBox: "0 0 " + width + " " + height, role: "img", class: "plot parallel" }, meta);
      var X = function (i) { return m.left + i * (width - m.left - m.right) / (axes.length - 1); };
      var Y = function (f) { return height - m.bottom - f * (height - m.top - m.bottom); };
      var lines = svg("g", { class: "lines" }, root);
      runs.forEach(function (p, i) {
        var d = axes.map(function (a, k) { return (k ? "L" : "M") + X(k).toFixed(1) + " " + Y(a.at(p)).toFixed(1); }).join("");
        var f = (p.y - ye[0]) / (ye[1] - ye[0]), good = pts.goal === "min" ? 1 - f : f;
        svg("path", { d: d, "data-i": i, "data-href": p.href, class: "run-line",
                      stroke: "hsl(" + Math.round(215 - 95 * good) + ", 65%, 45%)" }, lines);
      });
      var axisGroup = svg("g", { class: "axes" }, root);
      axes.forEach(function (a, k) {
        svg("line", { x1: X(k), x2: X(k), y1: Y(0), y2: Y(1), class: "axis" }, axisGroup);
        var label = a.name.length > 22 ? a.name.slice(0, 21) + "…" : a.name;
        var anchor = k === 0 ? "start" : (k === axes.length - 1 ? "end" : "middle");
        text("text", label, { x: X(k) + (k === 0 ? -8 : 0) + (k === axes.length - 1 ? 8 : 0), y: 14,
                              "text-anchor": anchor, class: "label" + (a.metric ? " metric" : "") }, axisGroup);
        // Range labels beside the axis (left of the last one, so they stay on the chart).
        var last = k === axes.length - 1, side = { x: X(k) + (last ? -4 : 4), "text-anchor": last ? "end" : "start" };
        var cut = function (t) { t = String(t); return t.length > 18 ? t.slice(0, 17) + "…" : t; };
        text("text", cut(a.hi), { x: side.x, y: Y(1) - 4, "text-anchor": side["text-anchor"] }, axisGroup);
        text("text", cut(a.lo), { x: side.x, y: Y(0) + 12, "text-anchor": side["text-anchor"] }, axisGroup);
      });
      var hovered = null;
      lines.addEventListener("mousemove", function (event) {
        var i = event.target.getAttribute("data-i");
        if (i === null) { hovered = null; return hideTip(); }
        var p = runs[+i];
        hovered = p;
        showTip(p.tip.concat(dims.map(function (d) { return d + " = " + show(p.raw.params[d]); })), event);
      });
      lines.addEventListener("mouseleave", function () { hovered = null; hideTip(); });
      lines.addEventListener("click", function (event) {
        var href = event.target.getAttribute("data-href");
        if (href) window.location.href = href;
      });
      meta.setAttribute("data-points", String(runs.length));
    }).catch(function (err) { message(meta, "Cannot load the chart: " + err.message); });
  }

  function metaPanel(meta, project) {
    var y = meta.getAttribute("data-metric"), x = meta.getAttribute("data-param");
    if (meta.getAttribute("data-view") === "parallel") return parallelPanel(meta, project, y);
    var explicit = meta.getAttribute("data-explicit") === "true";
    var ySelect = document.getElementById("y-select"), xSelect = document.getElementById("x-select");
    var metrics = ySelect ? Array.prototype.map.call(ySelect.options, function (o) { return o.value; }) : [y];
    function draw(metric, param) {
      if (ySelect) ySelect.value = metric;
      if (xSelect) xSelect.value = param;
      try {  // keep the chosen pair in the address, so the view can be shared
        var url = new URL(window.location.href);
        url.searchParams.set("y", metric);
        url.searchParams.set("x", param);
        window.history.replaceState(null, "", url.toString());
      } catch (e) { /* an old browser: the selects still show the state */ }
      return pointsOf(project, metric, "&params=" + enc(param)).then(function (pts) {
        metaChart(meta, pts, metric, param);
      });
    }
    if (x) { message(meta, "Loading…"); return draw(y, x).catch(function (err) { message(meta, "Cannot load the chart: " + err.message); }); }
    // No hyperparameter chosen: sample the newest runs of the metric (and, unless the metric was
    // chosen, of the others too) for the pair whose hyperparameter varies the most.
    var order = explicit ? [y] : [y].concat(metrics.filter(function (m) { return m !== y; }).slice(0, 11));
    message(meta, "Loading…");
    Promise.all(order.map(function (m) {
      return pointsOf(project, m, "&limit=500&all_params=true").then(function (sample) {
        var best = candidateParams(sample)[0];
        if (!best) return null;
        // The page's metric first; timings (fit_time_s, mean_fit_time...) say little about a model.
        var weight = (m === y ? 1.5 : 1) * (/time|duration|seconds|_s$/.test(m) ? 0.25 : 1);
        return { metric: m, param: best.param, score: best.score * weight };
      });
    })).then(function (found) {
      var best = null;
      found.forEach(function (f) { if (f && (!best || f.score > best.score)) best = f; });
      if (!best) return message(meta, "No hyperparameter varies across the runs that logged " + y + ".");
      return draw(best.metric, best.param);
    }).catch(function (err) { message(meta, "Cannot load the chart: " + err.message); });
  }

  function metaChart(container, pts, metric, param) {
    var withParam = pts.filter(function (p) { return Object.prototype.hasOwnProperty.call(p.raw.params, param); });
    if (!withParam.length) return message(container, "No run with " + metric + " has the param " + param + ".");
    var numeric = withParam.every(function (p) { return isNumber(p.raw.params[param]); });
    var categories = [];
    if (!numeric) {
      var seen = {};
      withParam.forEach(function (p) { var k = show(p.raw.params[param]); if (!seen[k]) { seen[k] = 1; categories.push(k); } });
      categories.sort();
    }
    var index = {};
    categories.forEach(function (c, i) { index[c] = i; });
    var placed = withParam.map(function (p) {
      var v = p.raw.params[param];
      // A little horizontal jitter keeps runs with the same category apart.
      var x = numeric ? v : index[show(v)] + ((p.raw.run_id * 7919) % 100 - 50) / 250;
      return { x: x, y: p.y, status: p.status, href: p.href, tip: p.tip, more: p.more };
    });
    chart(container, placed, { xKind: numeric ? "number" : "category", categories: categories,
                               xLabel: param, yLabel: metric });
    container.setAttribute("data-points", String(placed.length));
    container.setAttribute("data-param", param);
    container.setAttribute("data-metric", metric);
  }

  // -- run page: one chart per metric series ----------------------------------------
  function seriesCharts() {
    var boxes = document.querySelectorAll("[data-series]");
    Array.prototype.forEach.call(boxes, function (box) {
      var key = box.getAttribute("data-series"), run = box.getAttribute("data-run");
      getJSON("/api/runs/" + enc(run) + "/metrics/" + enc(key)).then(function (data) {
        var pts = data.points.map(function (p) {
          var y = num(p.value);
          return { x: p.step, y: y, tip: [key, "step " + p.step, "value " + fmt(y), utc(p.timestamp * 1000, true) + " UTC"] };
        });
        chart(box, pts, { xKind: "number", xLabel: "step", yLabel: key, line: true, height: 220 });
      }).catch(function (err) { message(box, "Cannot load " + key + ": " + err.message); });
    });
  }

  // -- graphs (lineage, estimator steps): laid out by dagre, shown at reading size with pan/zoom --
  /* dagre (static/vendor, MIT) does the Sugiyama-style layout: ranks along the edges, crossings
     minimised, and each edge a polyline through its own slot between the ranks, so it does not
     run behind a box it does not join. Boxes are sized to their label; a wide graph keeps its
     text size and is panned (drag) and zoomed (buttons, or Ctrl/⌘ + wheel) instead of shrunk. */
  var BOX_H = 42, CHAR_W = 7, BOX_MIN = 120, BOX_MAX = 300;

  function boxWidth(n) {
    var chars = Math.max(n.label.length, (n.sub || "").length * 0.9);
    return Math.max(BOX_MIN, Math.min(BOX_MAX, Math.round(chars * CHAR_W + 18)));
  }

  function layout(nodes, edges) {
    var g = new dagre.graphlib.Graph({ multigraph: false });
    g.setGraph({ rankdir: "LR", nodesep: 22, ranksep: 70, edgesep: 14, marginx: 16, marginy: 16 });
    g.setDefaultEdgeLabel(function () { return {}; });
    nodes.forEach(function (n) { n.width = boxWidth(n); g.setNode(n.key, { width: n.width, height: BOX_H }); });
    edges.forEach(function (e) {
      if (g.hasNode(e.source) && g.hasNode(e.target) && e.source !== e.target) g.setEdge(e.source, e.target);
    });
    dagre.layout(g);
    return g;
  }

  function clip(text, width) {
    var fits = Math.floor((width - 14) / CHAR_W);
    return text.length > fits ? text.slice(0, Math.max(1, fits - 1)) + "…" : text;
  }

  function drawGraph(container, nodes, edges, opts) {
    container.textContent = "";
    if (typeof dagre === "undefined") return message(container, "The graph layout (static/vendor/dagre.min.js) did not load.");
    var g = layout(nodes, edges), size = g.graph();
    var width = Math.ceil(size.width), height = Math.ceil(size.height);
    var shownH = Math.min(height, opts.maxHeight || 560);
    var tools = document.createElement("div");
    tools.className = "graph-tools";
    container.appendChild(tools);
    var frame = document.createElement("div");
    frame.className = "graph-frame";
    container.appendChild(frame);
    var root = svg("svg", { width: "100%", height: shownH, class: "graph", "data-width": width, "data-height": height }, frame);
    var defs = svg("defs", {}, root);
    var marker = svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto" }, defs);
    svg("path", { d: "M0 0 L10 5 L0 10 z", class: "arrow-head" }, marker);
    var scene = svg("g", { class: "scene" }, root);
    var lines = svg("g", { class: "edges" }, scene);
    g.edges().forEach(function (e) {
      var pts = g.edge(e).points || [];
      if (pts.length < 2) return;
      var d = pts.map(function (p, i) { return (i ? "L" : "M") + p.x.toFixed(1) + " " + p.y.toFixed(1); }).join(" ");
      svg("path", { d: d, class: "edge", "data-source": e.v, "data-target": e.w, "marker-end": "url(#arrow)" }, lines);
    });
    var boxes = svg("g", { class: "nodes" }, scene);
    nodes.forEach(function (n) {
      var at = g.node(n.key);
      if (!at) return;
      var x = at.x - n.width / 2, y = at.y - BOX_H / 2;
      var node = svg("g", { class: "node " + n.kind + (n.root ? " root" : "") + (n.status ? " " + n.status : ""),
        transform: "translate(" + x.toFixed(1) + "," + y.toFixed(1) + ")", "data-key": n.key,
        "data-box": [x.toFixed(1), y.toFixed(1), n.width, BOX_H].join(",") }, boxes);
      if (n.href) { node.setAttribute("tabindex", "0"); node.setAttribute("role", "link"); node.setAttribute("data-href", n.href); }
      var r = n.kind === "run" || n.kind === "step" ? 3 : 14;
      svg("rect", { width: n.width, height: BOX_H, rx: r, ry: r }, node);
      text("text", clip(n.label, n.width), { x: 8, y: 17, class: "node-label" }, node);
      text("text", clip(n.sub || "", n.width), { x: 8, y: 33, class: "node-sub" }, node);
      text("title", n.title || n.label, {}, node);
    });
    // The view: a scale and an offset applied to the scene; 1 = the boxes' own size.
    var view = { k: 1, x: 0, y: 0 };
    function apply() {
      scene.setAttribute("transform", "translate(" + view.x.toFixed(1) + "," + view.y.toFixed(1) + ") scale(" + view.k.toFixed(3) + ")");
      root.setAttribute("data-scale", view.k.toFixed(3));
    }
    function zoom(factor, cx, cy) {
      var k = Math.max(0.2, Math.min(3, view.k * factor));
      if (cx === undefined) { cx = frame.clientWidth / 2; cy = shownH / 2; }
      view.x = cx - (cx - view.x) * k / view.k;
      view.y = cy - (cy - view.y) * k / view.k;
      view.k = k;
      apply();
    }
    function fit() {
      var room = frame.clientWidth || width;
      view.k = Math.min(1, room / width, shownH / height);
      view.x = (room - width * view.k) / 2;
      view.y = (shownH - height * view.k) / 2;
      apply();
    }
    function centerOn(key) {
      var at = g.node(key), room = frame.clientWidth || width;
      view.k = 1;
      view.x = Math.min(0, Math.max(room - width, room / 2 - at.x));
      view.y = Math.min(0, Math.max(shownH - height, shownH / 2 - at.y));
      if (width <= room) view.x = (room - width) / 2;
      apply();
    }
    [["+", "Zoom in", function () { zoom(1.25); }], ["−", "Zoom out", function () { zoom(0.8); }],
     ["Fit", "Show the whole graph", fit], ["1:1", "Reading size", function () { centerOn(rootKey); }]].forEach(function (b) {
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = b[0];
      button.title = b[1];
      button.setAttribute("aria-label", b[1]);
      button.addEventListener("click", b[2]);
      tools.appendChild(button);
    });
    var hint = document.createElement("span");
    hint.className = "muted";
    hint.textContent = "Drag to pan; Ctrl/⌘ + wheel to zoom.";
    tools.appendChild(hint);
    var rootNode = nodes.filter(function (n) { return n.root; })[0] || nodes[0];
    var rootKey = rootNode ? rootNode.key : null;
    // First view at reading size: the whole graph when it fits, else centred on its root.
    if (rootKey && (width > (frame.clientWidth || width) || height > shownH)) centerOn(rootKey);
    else fit();
    frame.addEventListener("wheel", function (event) {
      if (!event.ctrlKey && !event.metaKey) return;  // a plain wheel scrolls the page
      event.preventDefault();
      var box = frame.getBoundingClientRect();
      zoom(event.deltaY < 0 ? 1.1 : 1 / 1.1, event.clientX - box.left, event.clientY - box.top);
    }, { passive: false });
    var drag = null, moved = false;
    frame.addEventListener("pointerdown", function (event) {
      drag = { x: event.clientX, y: event.clientY, vx: view.x, vy: view.y };
      moved = false;
    });
    window.addEventListener("pointermove", function (event) {
      if (!drag) return;
      var dx = event.clientX - drag.x, dy = event.clientY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 3) moved = true;
      if (moved) { view.x = drag.vx + dx; view.y = drag.vy + dy; apply(); frame.classList.add("panning"); }
    });
    window.addEventListener("pointerup", function () { drag = null; frame.classList.remove("panning"); });
    function follow(event) {
      if (moved) return;  // the end of a drag is not a click
      var target = event.target.closest ? event.target.closest("[data-href]") : null;
      if (target) window.location.href = target.getAttribute("data-href");
    }
    boxes.addEventListener("click", follow);
    boxes.addEventListener("keydown", function (event) { if (event.key === "Enter") { moved = false; follow(event); } });
    return root;
  }

  function lineagePage() {
    var box = document.getElementById("lineage");
    if (!box) return;
    var node = box.getAttribute("data-node"), direction = box.getAttribute("data-direction"), depth = box.getAttribute("data-depth");
    getJSON("/api/lineage?node=" + enc(node) + "&direction=" + enc(direction) + "&depth=" + enc(depth)).then(function (g) {
      var nodes = g.nodes.map(function (n) {
        var sub = n.kind === "run" ? [n.orchestrator, n.status, "#" + String(n.id).slice(-8)].filter(Boolean).join(" · ") : "artifact version #" + n.id;
        var label = n.label;
        if (n.kind === "artifact") {
          // "file:///data/x/train.csv@abc123" reads best as "train.csv@abc123"; the tooltip keeps it whole.
          var at = label.lastIndexOf("@"), uri = at > 0 ? label.slice(0, at) : label;
          var tail = uri.replace(/\/+$/, "").split("/").pop() || uri;
          // An in-memory value ("value:dataframe/9bd27b51...") is named by its type, not a bare hash.
          if (uri.indexOf("value:") === 0) tail = uri.slice(6).split("/")[0] || "value";
          label = tail + (at > 0 ? label.slice(at, at + 9) : "");
        }
        return { key: n.key, kind: n.kind, label: label, sub: sub, root: n.key === g.root,
                 status: n.status, title: n.label + (n.project ? " (" + n.project + ")" : ""), depth: n.depth,
                 href: base + "/lineage?node=" + enc(n.key) + "&direction=" + enc(direction) + "&depth=" + enc(depth) };
      });
      if (nodes.length === 1) message(box, "Nothing upstream or downstream was recorded for this node.");
      else drawGraph(box, nodes, g.edges, { maxHeight: 560 });
      if (g.more) {
        // A bounded answer: say what is not drawn rather than hang the page on a huge graph.
        var note = document.createElement("p");
        note.className = "muted";
        note.id = "lineage-not-drawn";
        note.textContent = "The " + g.nodes.length + " nodes nearest to this one are drawn; " +
          g.more.remaining + " more are listed page by page below.";
        box.insertBefore(note, box.firstChild);
      }
    }).catch(function (err) { message(box, "Cannot load the lineage: " + err.message); });
  }

  function estimatorGraph() {
    var box = document.getElementById("estimator-graph"), data = document.getElementById("estimator-data");
    if (!box || !data) return;
    try {
      var g = JSON.parse(data.textContent);
      drawGraph(box, g.nodes.map(function (n) {
        return { key: n.key, kind: "step", label: n.label, sub: n.sub || "", title: n.title || n.label };
      }), g.edges, { maxHeight: 420 });
    } catch (err) { message(box, "Cannot draw the estimator: " + err.message); }
  }

  // -- forms and the keyboard ----------------------------------------------------
  function forms() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-autosubmit]"), function (s) {
      s.addEventListener("change", function () { s.form.submit(); });
    });
    var compare = document.getElementById("compare-form");
    if (compare) compare.addEventListener("submit", function (event) {
      if (compare.querySelectorAll("input[name=ids]:checked").length < 2) {
        event.preventDefault();
        var hint = compare.querySelector(".table-actions .muted");
        if (hint) hint.textContent = "Select at least two runs to compare.";
      }
    });
    var table = document.getElementById("runs-table");
    if (table) table.addEventListener("keydown", function (event) {
      var row = event.target.closest ? event.target.closest("tbody tr") : null;
      if (!row) return;
      var next = null;
      var step = null;
      if (event.key === "ArrowDown") step = "nextElementSibling";
      else if (event.key === "ArrowUp") step = "previousElementSibling";
      else if (event.key === "Enter" && event.target.type === "checkbox") {
        var link = row.querySelector("a.run-link");
        if (link) { event.preventDefault(); window.location.href = link.href; }
        return;
      }
      if (!step) return;
      event.preventDefault();
      // Group header rows have nothing to select: skip them.
      for (next = row[step]; next && !next.querySelector("input[type=checkbox]"); next = next[step]) { /* skip */ }
      if (next) next.querySelector("input[type=checkbox]").focus();
    });
  }

  function start() {
    forms();
    projectPage();
    seriesCharts();
    lineagePage();
    estimatorGraph();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
  window.ModelDB = { chart: chart, drawGraph: drawGraph };
})();
