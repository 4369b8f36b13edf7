/* Loss and metric curves with uPlot (MIT, copied in: static/uPlot.iife.min.js, v1.6.32). */
"use strict";

const Charts = (() => {
  const COLOR = { a: "#0877bd", b: "#e8590c" };

  function seriesFor(keys, metric) {
    const out = [{}];
    for (const k of keys) {
      const name = k.toUpperCase();
      out.push({ label: `${name} train`, stroke: COLOR[k], width: 2, spanGaps: true });
      out.push({ label: `${name} test`, stroke: COLOR[k], width: 2, dash: [6, 4], spanGaps: true });
    }
    if (!metric) out.push({ label: "ln k", stroke: "#999", width: 1, dash: [2, 3], spanGaps: true });
    return out;
  }

  /** A chart of train/test curves for runs A (and B): `metric` false = loss (log y), true = accuracy / R^2. */
  class Curves {
    constructor(el, metric) {
      this.el = el;
      this.metric = metric;
      this.keys = null;
      this.plot = null;
      window.addEventListener("resize", () => this.resize());
    }

    width() { return Math.max(260, this.el.clientWidth || 300); }

    resize() { if (this.plot) this.plot.setSize({ width: this.width(), height: 200 }); }

    build(keys, yLabel) {
      if (this.plot) this.plot.destroy();
      this.keys = keys.join(",");
      const y = this.metric ? { range: (u, lo, hi) => [Math.min(0, lo ?? 0), Math.max(1, hi ?? 1)] }
                            : { distr: 3, log: 10 };
      this.plot = new uPlot({
        width: this.width(), height: 200,
        scales: { x: { time: false }, y },
        axes: [{ label: "step", size: 36 }, { label: yLabel, size: 56 }],
        series: seriesFor(keys, this.metric),
        legend: { live: false },
        cursor: { drag: { x: false, y: false } },
      }, [[]], this.el);
    }

    /** hist: {a: {step, loss, ...}, b: ...}; logk: ln(k) line (loss chart) or null. */
    update(hist, logk, yLabel) {
      const keys = Object.keys(hist).sort();
      if (this.keys !== keys.join(",") || this.yLabel !== yLabel) { this.yLabel = yLabel; this.build(keys, yLabel); }
      const steps = new Set();
      for (const k of keys) for (const s of hist[k].step) steps.add(s);
      const x = Array.from(steps).sort((p, q) => p - q);
      const data = [x];
      const clamp = (v) => (v === null || v === undefined ? null : this.metric ? v : Math.max(v, 1e-6));
      for (const k of keys) {
        const h = hist[k];
        const at = new Map();
        h.step.forEach((s, i) => at.set(s, i));
        const pick = (series) => x.map((s) => (at.has(s) ? clamp(series[at.get(s)]) : null));
        data.push(pick(this.metric ? h.metric : h.loss), pick(this.metric ? h.test_metric : h.test_loss));
      }
      if (!this.metric) data.push(x.map(() => (logk ? logk : null)));
      this.plot.setData(data);
    }
  }

  return { Curves, COLOR };
})();
