/* Per-layer diagnostics (SignalMonitor): activation histograms, saturation and dead units,
   each layer's gradient against the output layer's, and the update-to-weight ratio against the 1e-3 band. */
"use strict";

const Diag = (() => {
  const { el, sized } = Views;
  const fmt = (v, d = 2) => (v === null || v === undefined ? "–" : Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-2)
    ? v.toExponential(0) : v.toFixed(d));
  const pct = (v) => (v === null || v === undefined ? "–" : `${Math.round(v * 100)}%`);

  function hist(canvas, counts, colour) {
    const ctx = sized(canvas, 96, 28), W = canvas.width, H = canvas.height;
    ctx.clearRect(0, 0, W, H);
    const max = Math.max(1, ...counts), bw = W / counts.length;
    ctx.fillStyle = colour;
    counts.forEach((c, i) => {
      const h = (c / max) * (H - 2);
      ctx.fillRect(i * bw, H - h, Math.max(1, bw - 0.5), h);
    });
  }

  /** A log-scale strip from 10^lo to 10^hi: shaded band [bandLo, bandHi], a tick at `mark`, a bar or dot at v. */
  function logStrip(canvas, v, { lo, hi, band, mark, bar, bad }) {
    const ctx = sized(canvas, 84, 14), W = canvas.width, H = canvas.height;
    const x = (t) => ((Math.log10(t) - lo) / (hi - lo)) * W;
    ctx.clearRect(0, 0, W, H);
    if (v === null || v === undefined) return;  // not a layer with weights
    ctx.fillStyle = "#f1f3f5"; ctx.fillRect(0, 0, W, H);
    if (band) { ctx.fillStyle = "rgba(43,138,62,0.22)"; ctx.fillRect(x(band[0]), 0, x(band[1]) - x(band[0]), H); }
    ctx.fillStyle = "#888"; ctx.fillRect(x(mark) - 0.5, 0, 1, H);
    if (!(v > 0)) { ctx.fillStyle = "#c92a2a"; ctx.fillRect(0, 0, 3, H); return; }  // exactly 0
    const px = Math.max(1, Math.min(W - 1, x(v)));
    ctx.fillStyle = bad(v) ? "#c92a2a" : "#0877bd";
    if (bar) ctx.fillRect(0, H * 0.25, px, H * 0.5);
    else { ctx.beginPath(); ctx.arc(px, H / 2, H / 3, 0, 2 * Math.PI); ctx.fill(); }
  }

  const GRAD = { lo: -8, hi: 2, mark: 1, bar: true, bad: (v) => v < 1e-3 || v > 1e3 };
  const UPDATE = { lo: -7, hi: 0, band: [1e-4, 1e-2], mark: 1e-3, bar: false, bad: (v) => v < 1e-5 || v > 1e-1 };

  function build(box, rows) {
    const table = el("table", { class: "diag-table" });
    table.append(el("tr", {},
      ...["layer", "activations", "mean ± std", "saturated", "dead", "gradient ÷ output's", "update ÷ weight"]
        .map((t) => el("th", { text: t }))));
    for (const r of rows) {
      const tr = el("tr", {});
      tr.append(el("td", {}, `${r.block} `, el("span", { class: "block", text: r.kind })),
        el("td", {}, el("canvas", { class: "hist" })), el("td"), el("td"), el("td"),
        el("td", {}, el("canvas", { class: "bar" }), el("span")), el("td", {}, el("canvas", { class: "bar" }), el("span")));
      table.append(tr);
    }
    box.replaceChildren(table,
      el("p", { class: "legend-note", text: "activations: each layer's outputs (after its activation) on up to 512 "
        + "training points, histogram over a fixed range; gradient: ||dL/dW|| of the layer's weights over the output "
        + "layer's (log scale, tick at 1; red below 1e-3: vanishing, above 1e3: exploding); update: ||ΔW|| / ||W|| "
        + "per step (log scale, green band 1e-4..1e-2 around the 1e-3 rule of thumb)." }));
  }

  /** Render one run's rows into `box` (structure rebuilt only when the layers change). */
  function render(box, rows, colour) {
    const key = rows.map((r) => r.block + r.kind).join("|");
    if (box.dataset.key !== key) { build(box, rows); box.dataset.key = key; }
    const trs = box.querySelectorAll("tr");
    rows.forEach((r, i) => {
      const td = trs[i + 1].children;
      td[0].title = `${r.modules.join(" · ")} · histogram range ${r.range[0]}..${r.range[1]}`
        + (r.nonfinite ? ` · ${r.nonfinite} NaN/Inf values` : "");
      hist(td[1].firstChild, r.hist, colour);
      td[2].textContent = r.mean === null ? "–" : `${fmt(r.mean)} ± ${fmt(r.std)}`;
      td[3].textContent = pct(r.saturation);
      td[3].className = r.saturation > 0.5 ? "warn" : "";
      td[4].textContent = pct(r.dead);
      td[4].className = r.dead > 0.5 ? "warn" : "";
      logStrip(td[5].firstChild, r.grad_ratio, GRAD);
      td[5].title = r.grad_norm === null ? "" : `||dL/dW|| = ${fmt(r.grad_norm, 4)}`;
      td[5].lastChild.textContent = r.grad_ratio === null ? "" : ` ${fmt(r.grad_ratio)}`;
      logStrip(td[6].firstChild, r.update_ratio, UPDATE);
      td[6].lastChild.textContent = r.update_ratio === null ? "" : ` ${fmt(r.update_ratio)}`;
    });
  }

  return { render, fmt, pct };
})();
