/* Canvas views: decision-boundary heatmaps, hidden-unit maps, images, confusion matrix, per-layer diagnostics. */
"use strict";

const Views = (() => {
  const PALETTE = ["#f59322", "#0877bd", "#2b8a3e", "#ae3ec9", "#e03131", "#1098ad", "#f08c00", "#5c940d"];
  const rgb = (hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  const RGB = PALETTE.map(rgb);
  const NEG = rgb("#0877bd"), POS = rgb("#f59322");

  function bytes(b64) {
    const s = atob(b64);
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  }

  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v; else if (k === "text") e.textContent = v; else e.setAttribute(k, v);
    }
    for (const kid of kids) if (kid) e.append(kid);
    return e;
  }

  function sized(canvas, w, h) {
    const dpr = window.devicePixelRatio || 1;
    if (canvas.width !== Math.round(w * dpr)) { canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr); }
    return canvas.getContext("2d");
  }

  /** Diverging colour for t in [0, 1]: blue (0) - white (0.5) - orange (1). */
  function diverging(t) {
    const c = t < 0.5 ? NEG : POS, a = Math.abs(t - 0.5) * 2;
    return [255 + (c[0] - 255) * a, 255 + (c[1] - 255) * a, 255 + (c[2] - 255) * a];
  }

  const scratch = document.createElement("canvas");

  function blit(canvas, pixels, res, colour) {
    scratch.width = res; scratch.height = res;
    const sctx = scratch.getContext("2d");
    const img = sctx.createImageData(res, res);
    for (let i = 0; i < res * res; i++) {
      const c = colour(i);
      img.data[4 * i] = c[0]; img.data[4 * i + 1] = c[1]; img.data[4 * i + 2] = c[2]; img.data[4 * i + 3] = 255;
    }
    sctx.putImageData(img, 0, 0);
    const ctx = canvas.getContext("2d");
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(scratch, 0, 0, canvas.width, canvas.height);
    return ctx;
  }

  /** The decision boundary of one run with the training (white rim) and test (dark rim) points. */
  function heatmap(canvas, hm, data, showTest) {
    const size = Math.min(340, canvas.clientWidth || 340);
    sized(canvas, size, size);
    if (!hm || !data || !data.domain) return;
    const k = data.n_classes;
    let ctx;
    if (hm.value) {
      const v = bytes(hm.value);
      ctx = blit(canvas, v, hm.res, (i) => diverging(v[i] / 255));
    } else {
      const cls = bytes(hm.cls), conf = bytes(hm.conf);
      const floor = k > 1 ? 1 / k : 0.5;
      ctx = blit(canvas, cls, hm.res, (i) => {
        const c = RGB[cls[i] % RGB.length];
        const t = Math.max(0, Math.min(1, (conf[i] / 255 - floor) / (1 - floor))) * 0.75;
        return [255 + (c[0] - 255) * t, 255 + (c[1] - 255) * t, 255 + (c[2] - 255) * t];
      });
    }
    const [x0, x1, y0, y1] = data.domain, W = canvas.width, H = canvas.height;
    const r = Math.max(2, W / 110);
    const lo = data.range ? data.range[0] : 0, hi = data.range ? data.range[1] : 1;
    const colourOf = (lab) => (data.task === "regression"
      ? `rgb(${diverging((lab - lo) / Math.max(hi - lo, 1e-12)).map(Math.round).join(",")})`
      : PALETTE[lab % PALETTE.length]);
    const sets = [[data.train, "#fff"]];
    if (showTest) sets.push([data.test, "#222"]);
    for (const [pts, rim] of sets) {
      for (let i = 0; i < pts.x.length; i++) {
        ctx.beginPath();
        ctx.arc((pts.x[i] - x0) / (x1 - x0) * W, (y1 - pts.y[i]) / (y1 - y0) * H, r, 0, 2 * Math.PI);
        ctx.fillStyle = colourOf(pts.label[i]);
        ctx.fill();
        ctx.lineWidth = Math.max(1, r / 3);
        ctx.strokeStyle = rim;
        ctx.stroke();
      }
    }
  }

  /** Each hidden unit's output over the plane (small nets), one column per hidden layer. */
  function units(box, maps, layerNames) {
    if (!maps) { box.replaceChildren(); box.dataset.key = ""; return; }
    const key = maps.layers.map((l) => l.length).join(",");
    if (box.dataset.key !== key) {
      box.replaceChildren();
      maps.layers.forEach((l, j) => {
        const col = el("div", { class: "col" }, el("span", { text: layerNames[j] || `hidden ${j + 1}` }));
        for (let u = 0; u < l.length; u++) col.append(el("canvas", { width: maps.res, height: maps.res }));
        box.append(col);
      });
      box.dataset.key = key;
    }
    maps.layers.forEach((l, j) => {
      const canvases = box.children[j].querySelectorAll("canvas");
      l.forEach((unit, u) => {
        const px = bytes(unit.px);
        const c = canvases[u];
        c.width = maps.res; c.height = maps.res;
        const zero = unit.hi > unit.lo ? (0 - unit.lo) / (unit.hi - unit.lo) : 0;
        blit(c, px, maps.res, (i) => diverging(0.5 + (px[i] / 255 - Math.max(0, Math.min(1, zero))) / 2));
        c.title = `hidden ${j + 1}, unit ${u + 1}: ${unit.lo} .. ${unit.hi}`;
      });
    });
  }

  /** The grid of test images with each prediction (red frame: wrong). */
  function images(box, data, view) {
    if (!data || !data.images || !view || !view.pred) { box.replaceChildren(); box.dataset.rev = ""; return; }
    const im = data.images, [h, w] = im.size, n = im.labels.length;
    const rev = `${data.rev}`;
    if (box.dataset.rev !== rev) {
      box.replaceChildren();
      const px = bytes(im.pixels);
      for (let i = 0; i < n; i++) {
        const c = el("canvas", { width: w, height: h });
        const ctx = c.getContext("2d"), img = ctx.createImageData(w, h);
        for (let p = 0; p < w * h; p++) {
          const v = px[i * w * h + p];
          img.data[4 * p] = img.data[4 * p + 1] = img.data[4 * p + 2] = v; img.data[4 * p + 3] = 255;
        }
        ctx.putImageData(img, 0, 0);
        box.append(el("figure", {}, c, el("figcaption")));
      }
      box.dataset.rev = rev;
    }
    const figs = box.children;
    for (let i = 0; i < n; i++) {
      const p = view.pred[i], ok = p === im.labels[i];
      figs[i].className = ok ? "" : "wrong";
      const name = data.class_names[p] ?? `${p}`;
      figs[i].lastChild.textContent = name;
      figs[i].title = `true: ${data.class_names[im.labels[i]]}, predicted: ${name}`;
    }
  }

  /** Confusion matrix (rows: true class, columns: predicted), cells shaded by their row's share. */
  function confusion(box, cm, names) {
    if (!cm) { box.replaceChildren(); return; }
    const t = el("table", { class: "confusion" });
    t.append(el("tr", {}, el("th", { text: "true \\ pred" }), ...cm.map((_, j) => el("th", { text: `${j}` }))));
    cm.forEach((row, i) => {
      const total = row.reduce((p, q) => p + q, 0) || 1;
      const tr = el("tr", {}, el("th", { text: `${i} ${names[i] ?? ""}`.slice(0, 14) }));
      row.forEach((v, j) => {
        const td = el("td", { text: `${v}` });
        const a = v / total;
        td.style.background = i === j ? `rgba(43,138,62,${a})` : `rgba(201,42,42,${a})`;
        tr.append(td);
      });
      t.append(tr);
    });
    box.replaceChildren(t);
  }

  return { PALETTE, bytes, el, sized, heatmap, units, images, confusion, diverging };
})();
