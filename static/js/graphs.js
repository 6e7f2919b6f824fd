// Router graphs (uPlot): live traffic per interface, history with ranges and drag-to-zoom, CPU/memory/temperature.
// Configuration comes from data-* attributes on [data-live-url] sections; no inline script (CSP-ready).
(function () {
  "use strict";
  if (window.__ispGraphs) { window.__ispGraphs.scan(); return; }

  var COLORS = { rx: "#2563eb", tx: "#16a34a", cpu: "#dc2626", memory: "#7c3aed", temperature: "#ea580c" };

  function bps(v) {
    if (v == null) return "—";
    var a = Math.abs(v);
    if (a >= 1e9) return (v / 1e9).toFixed(2) + " Gb/s";
    if (a >= 1e6) return (v / 1e6).toFixed(1) + " Mb/s";
    if (a >= 1e3) return (v / 1e3).toFixed(0) + " kb/s";
    return Math.round(v) + " b/s";
  }
  function pct(v) { return v == null ? "—" : v.toFixed(0) + " %"; }
  function deg(v) { return v == null ? "—" : v.toFixed(1) + " °C"; }

  function size(el) {
    var w = Math.max(200, Math.floor(el.clientWidth || el.parentNode.clientWidth || 300));
    return { width: w, height: w < 500 ? 180 : 230 };
  }

  // Missing buckets are absent from the columns: put a null where t jumps by more than one step so uPlot draws a gap.
  function withGaps(data, names, step) {
    var t = data.t || [], out = { t: [] }, i, n;
    names.forEach(function (k) { out[k] = []; });
    for (i = 0; i < t.length; i++) {
      if (step && i > 0 && t[i] - t[i - 1] > step * 1.5) {
        out.t.push(t[i - 1] + step);
        names.forEach(function (k) { out[k].push(null); });
      }
      out.t.push(t[i]);
      for (n = 0; n < names.length; n++) { var col = data[names[n]]; out[names[n]].push(col ? col[i] : null); }
    }
    return out;
  }

  // tz: the operator's IANA zone (data-tz): times on the axes and in the legend are shown there, not in the browser's.
  function Chart(el, kind, onZoom, tz) {
    this.el = el; this.kind = kind; this.onZoom = onZoom; this.tz = tz; this.plot = null; this.key = "";
  }
  // xrange: [start, end] of the window asked for (history charts), so a sparse series still spans the whole range.
  Chart.prototype.draw = function (series, columns, fmt, bands, xrange) {
    this.xrange = xrange || null;
    var key = series.map(function (s) { return s.label; }).join("|");
    var data = [columns.t].concat(series.map(function (s) { return columns[s.col] || []; }));
    if (this.plot && this.key === key) { this.plot.setData(data); return; }
    if (this.plot) this.plot.destroy();
    this.el.textContent = "";
    var self = this, s = size(this.el);
    var opts = {
      width: s.width, height: s.height,
      tzDate: function (ts) { return self.tz ? uPlot.tzDate(new Date(ts * 1e3), self.tz) : new Date(ts * 1e3); },
      cursor: { drag: { x: true, y: false, setScale: false } },
      scales: { x: { time: true, range: function (u, min, max) { return self.xrange ? self.xrange.slice() : [min, max]; } } },
      axes: [{}, { values: function (u, vals) { return vals.map(fmt); }, size: 70 }],
      series: [{}].concat(series.map(function (x) {
        return { label: x.label, stroke: x.stroke, width: x.width || 1.5, fill: x.fill,  // points show when sparse
                 value: function (u, v) { return fmt(v); } };
      })),
      hooks: {
        setSelect: [function (u) {
          if (!self.onZoom || u.select.width < 5) return;
          var start = Math.floor(u.posToVal(u.select.left, "x")), end = Math.ceil(u.posToVal(u.select.left + u.select.width, "x"));
          u.setSelect({ left: 0, width: 0, top: 0, height: 0 }, false);
          self.onZoom(start, end);
        }]
      }
    };
    if (bands) opts.bands = bands;
    this.plot = new window.uPlot(opts, data, this.el);
    this.key = key;
  };
  Chart.prototype.resize = function () { if (this.plot) this.plot.setSize(size(this.el)); };
  Chart.prototype.message = function (text) {
    if (this.plot) { this.plot.destroy(); this.plot = null; this.key = ""; }
    this.el.innerHTML = "";
    var p = document.createElement("p"); p.className = "muted rm-empty"; p.textContent = text; this.el.appendChild(p);
  };

  // The operator's zone if the browser knows it; otherwise undefined (the browser's own zone).
  function zone(name) {
    if (!name) return undefined;
    try { new Intl.DateTimeFormat(undefined, { timeZone: name }); return name; } catch (e) { return undefined; }
  }

  function Panel(root) {
    var self = this;
    this.root = root;
    this.picker = root.querySelector("[data-graph-iface]");
    this.lastEl = root.querySelector("[data-live-last]");
    this.errorEl = root.querySelector("[data-graph-error]");
    var active = root.querySelector("[data-range].active");
    this.window = { range: active ? active.dataset.range : "1h" };
    var zoom = function (start, end) { self.window = { start: start, end: end }; self.markRange(null); self.history(); };
    this.charts = {};
    this.tz = zone(root.dataset.tz);
    root.querySelectorAll("[data-chart]").forEach(function (el) {
      self.charts[el.dataset.chart] = new Chart(el, el.dataset.chart, el.dataset.chart === "live" ? null : zoom, self.tz);
    });
    root.querySelectorAll("[data-range]").forEach(function (b) {
      b.addEventListener("click", function () { self.window = { range: b.dataset.range }; self.markRange(b); self.history(); });
    });
    if (this.picker) this.picker.addEventListener("change", function () { self.history(); self.tick(); });
    if (window.ResizeObserver) {
      this.observer = new ResizeObserver(function () { Object.keys(self.charts).forEach(function (k) { self.charts[k].resize(); }); });
      this.observer.observe(root);
    }
    this.every = parseInt(root.dataset.liveEvery || "2500", 10);
    this.timer = setInterval(function () { self.tick(); }, this.every);
    document.addEventListener("visibilitychange", function () { if (document.visibilityState === "visible") self.tick(); });
    this.history();
    this.tick();
  }
  Panel.prototype.alive = function () {
    if (this.root.isConnected) return true;
    clearInterval(this.timer);  // the page was left (boosted navigation): stop polling
    if (this.observer) this.observer.disconnect();
    return false;
  };
  Panel.prototype.markRange = function (button) {
    this.root.querySelectorAll("[data-range]").forEach(function (b) {
      b.classList.toggle("active", b === button); b.setAttribute("aria-pressed", b === button ? "true" : "false");
    });
  };
  Panel.prototype.iface = function () {
    var o = this.picker && this.picker.selectedOptions[0];
    return o ? { id: o.value, name: o.dataset.name } : null;
  };
  Panel.prototype.fetch = function (url) {
    return fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (body) {
        if (!r.ok) throw new Error(body.error || body.message || ("The server answered " + r.status));
        return body;
      });
    });
  };
  Panel.prototype.query = function (series) {
    var w = this.window, q = "?series=" + encodeURIComponent(series);
    return q + (w.range ? "&range=" + w.range : "&start=" + w.start + "&end=" + w.end);
  };
  Panel.prototype.error = function (text) {
    if (!this.errorEl) return;
    this.errorEl.textContent = text || ""; this.errorEl.hidden = !text;
  };
  Panel.prototype.history = function () {
    var self = this, base = this.root.dataset.graphUrl, iface = this.iface();
    this.error("");
    if (iface && this.charts.iface) {
      this.fetch(base + this.query("iface:" + iface.id)).then(function (d) {
        var cols = ["rx", "tx", "rx_min", "rx_max", "tx_min", "tx_max"], g = withGaps(d, cols, d.step);
        if (!g.t.length) { self.charts.iface.message("No history for " + iface.name + " in this range yet."); return; }
        var series = [{ label: "rx", col: "rx", stroke: COLORS.rx }, { label: "tx", col: "tx", stroke: COLORS.tx }], bands = null;
        if (d.rx_min && d.rx_max) {
          series.push({ label: "rx min", col: "rx_min", stroke: "rgba(37,99,235,.25)", width: 1 },
                      { label: "rx max", col: "rx_max", stroke: "rgba(37,99,235,.25)", width: 1 },
                      { label: "tx min", col: "tx_min", stroke: "rgba(22,163,74,.25)", width: 1 },
                      { label: "tx max", col: "tx_max", stroke: "rgba(22,163,74,.25)", width: 1 });
          bands = [{ series: [4, 3], fill: "rgba(37,99,235,.12)" }, { series: [6, 5], fill: "rgba(22,163,74,.12)" }];
        }
        self.charts.iface.draw(series, g, bps, bands, [d.start, d.end]);
      }).catch(function (e) { self.error(e.message); });
    } else if (this.charts.iface) {
      this.charts.iface.message("No interfaces yet.");
    }
    this.fetch(base + this.query("system")).then(function (d) {
      var g = withGaps(d, ["cpu", "memory", "temperature"], d.step);
      if (!g.t.length) {
        if (self.charts.system) self.charts.system.message("No samples in this range yet.");
        if (self.charts.temperature) self.charts.temperature.message("No samples in this range yet.");
        return;
      }
      if (self.charts.system) self.charts.system.draw([{ label: "CPU", col: "cpu", stroke: COLORS.cpu },
                                                       { label: "memory", col: "memory", stroke: COLORS.memory }], g, pct, null,
                                                      [d.start, d.end]);
      if (self.charts.temperature) {
        if (g.temperature.every(function (v) { return v == null; })) self.charts.temperature.message("This board reports no temperature.");
        else self.charts.temperature.draw([{ label: "temperature", col: "temperature", stroke: COLORS.temperature }], g, deg,
                                          null, [d.start, d.end]);
      }
    }).catch(function (e) { self.error(e.message); });
  };
  Panel.prototype.tick = function () {
    var self = this;
    if (!this.alive() || document.visibilityState !== "visible" || this.busy) return;
    this.busy = true;
    this.fetch(this.root.dataset.liveUrl).then(function (d) {
      var iface = self.iface(), names = Object.keys(d.ifaces || {});
      var name = iface && d.ifaces && d.ifaces[iface.name] ? iface.name : names[0];
      var chart = self.charts.live;
      if (!chart) return;
      if (!name || !(d.t || []).length) { chart.message("No live reading yet: the worker starts one when this page asks."); return; }
      var cols = { t: d.t, rx: d.ifaces[name].rx, tx: d.ifaces[name].tx };
      chart.draw([{ label: name + " rx", col: "rx", stroke: COLORS.rx, fill: "rgba(37,99,235,.08)" },
                  { label: name + " tx", col: "tx", stroke: COLORS.tx }], cols, bps);
      var n = d.t.length, at = new Date(d.t[n - 1] * 1000);
      self.root.dataset.livePoints = n;
      self.root.dataset.liveT = d.t[n - 1];
      if (self.lastEl) self.lastEl.textContent = name + ": rx " + bps(cols.rx[n - 1]) + " · tx " + bps(cols.tx[n - 1]) +
        " at " + at.toLocaleTimeString(undefined, self.tz ? { timeZone: self.tz } : undefined);
    }).catch(function () {
      if (self.lastEl) self.lastEl.textContent = "Live reading unavailable; retrying…";
    }).then(function () { self.busy = false; });
  };

  function scan() {
    if (!window.uPlot) { setTimeout(scan, 50); return; }  // a boosted swap may run this before uPlot has loaded
    document.querySelectorAll("[data-live-url]").forEach(function (root) {
      if (!root.__panel) root.__panel = new Panel(root);
    });
  }
  window.__ispGraphs = { scan: scan };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", scan); else scan();
  document.addEventListener("htmx:load", scan);
})();
