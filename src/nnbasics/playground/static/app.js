/* The page: talks to the server (JSON controls, server-sent frames) and draws each frame. */
"use strict";

(() => {
  const { el } = Views;
  const $ = (id) => document.getElementById(id);
  const token = document.body.dataset.token;
  const url = (path, params = {}) => `${path}?${new URLSearchParams({ ...params, token })}`;
  const state = { info: null, data: null, hist: {}, frame: null, editRun: "a", frames: 0, hash: "" };
  const lossChart = new Charts.Curves($("loss-chart"), false);
  const metricChart = new Charts.Curves($("metric-chart"), true);
  // what the browser tests read (nothing here is needed by the page itself)
  window.playground = { frames: 0, errors: 0, state };

  // ------------------------------------------------------------------ server
  function showError(message) {
    $("error-text").textContent = message;
    $("error").hidden = false;
    window.playground.errors += 1;
    window.playground.lastError = message;
  }
  $("error-close").addEventListener("click", () => { $("error").hidden = true; });

  async function post(action, body = {}) {
    let res;
    try {
      res = await fetch(url(`/api/${action}`), { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body) });
    } catch (e) {
      showError(`the playground server does not answer (${e.message}); is \`nnbasics playground\` still running?`);
      return null;
    }
    const out = await res.json().catch(() => ({ error: `the server answered ${res.status}` }));
    if (!res.ok) { showError(out.error || `the server answered ${res.status}`); return null; }
    $("error").hidden = true;
    return out;
  }

  /** Send a change; when the server refuses it, the controls show again the setup that is still in effect. */
  async function change(changes, run) {
    const out = await post("config", { config: changes, run: run || state.editRun });
    if (!out && state.frame) Controls.show(state.frame.configs[state.editRun], state.data, true);
    return out;
  }

  // ------------------------------------------------------------------ frames
  function mergeHistory(key, view) {
    const h = view.history;
    if (view.history_from === 0 || !state.hist[key]) state.hist[key] = {};
    const mine = state.hist[key];
    for (const [k, v] of Object.entries(h)) mine[k] = view.history_from === 0 ? v.slice() : (mine[k] || []).concat(v);
  }

  function outputsFor(keys, data) {
    const box = $("outputs");
    const sig = `${keys.join(",")}|${data.kind}|${data.rev}`;
    if (box.dataset.sig === sig) return;
    box.replaceChildren(...keys.map((k) => el("div", { class: "run-out", id: `out-${k}` },
      el("h3", {}, el("span", { class: `tag ${k}`, text: k.toUpperCase() }), el("span", { class: "title" })),
      data.kind === "2d" ? el("canvas", { class: "heatmap", id: `heatmap-${k}` }) : null,
      data.kind === "image" ? el("div", { class: "images", id: `images-${k}` }) : null,
      el("div", { class: "metrics", id: `metrics-${k}` }),
      el("div", { class: "units", id: `units-${k}` }),
      el("div", { id: `confusion-${k}` }))));
    box.dataset.sig = sig;
  }

  const FINDINGS_SHOWN = 6;
  const pctText = (v) => (v === null || v === undefined ? "–" : `${(v * 100).toFixed(1)}%`);

  function metricsText(view, data) {
    const h = view.history, n = h.step.length - 1;
    const m = data.task === "regression" ? "R²" : "accuracy";
    const f = (v) => (data.task === "regression" ? Diag.fmt(v, 3) : pctText(v));
    let t = `train loss <b>${Diag.fmt(h.loss[n], 4)}</b> · test loss <b>${Diag.fmt(h.test_loss[n], 4)}</b><br>`
      + `train ${m} <b>${f(h.metric[n])}</b> · test ${m} <b>${f(h.test_metric[n])}</b> · lr ${Diag.fmt(h.lr[n], 4)}`;
    if (view.member_metrics) t += `<br>members' test accuracy: ${view.member_metrics.map(pctText).join(", ")}`;
    return t;
  }

  function render(f) {
    const data = state.data;
    if (!data) return;
    const keys = Object.keys(f.runs).sort();
    outputsFor(keys, data);
    const showTest = true;
    for (const k of keys) {
      const view = f.runs[k], cfg = f.configs[k];
      $(`out-${k}`).querySelector(".title").textContent =
        `${cfg.layers.map((l) => `${l.units} ${l.activation}`).join(" → ") || "no hidden layer"} · init ${cfg.init}`
        + (cfg.members > 1 ? ` · vote of ${cfg.members}` : "");
      if (data.kind === "2d") Views.heatmap($(`heatmap-${k}`), view.heatmap, data, showTest);
      if (data.kind === "image") Views.images($(`images-${k}`), data, view.images);
      Views.confusion($(`confusion-${k}`), view.images && data.kind !== "2d" ? view.images.confusion : null,
        data.class_names);
      $(`metrics-${k}`).innerHTML = metricsText({ ...view, history: state.hist[k] }, data);
      Views.units($(`units-${k}`), view.units, cfg.layers.map((l, j) => `${j + 1}: ${l.activation}`));
    }
    const logk = f.runs.a.log_k;
    const hist = Object.fromEntries(keys.map((k) => [k, state.hist[k]]));
    lossChart.update(hist, logk, "loss");
    metricChart.update(hist, null, data.task === "regression" ? "R²" : "accuracy");
    $("metric-title").textContent = data.task === "regression" ? "R² (1 = perfect)" : "Accuracy";
    $("start-loss").textContent = logk === null ? "" : "starting loss: " + keys.map((k) =>
      `${k.toUpperCase()} ${Diag.fmt(f.runs[k].start_loss, 3)}`).join(", ") + ` · ln(${data.n_classes}) = `
      + `${Diag.fmt(logk, 3)} (a network unsure of every class starts there)`;
    renderDiagnostics(f, keys);
  }

  function renderDiagnostics(f, keys) {
    const items = [], nan = [];
    for (const k of keys) {
      const v = f.runs[k], tag = keys.length > 1 ? `${k.toUpperCase()}: ` : "";
      const mine = v.findings.map((s) => el("li", { text: tag + s }));
      if (mine.length > FINDINGS_SHOWN) {  // a deep net can list every layer: the first ones, the rest folded
        const rest = mine.splice(FINDINGS_SHOWN);
        mine.push(el("li", {}, el("details", {}, el("summary", { text: `${rest.length} more for ${k.toUpperCase()}` }),
          el("ul", {}, ...rest))));
      }
      items.push(...mine);
      if (v.nan) nan.push(el("div", {}, tag + v.nan_text, el("small", { text: v.nan.message })));
    }
    if (!items.length) items.push(el("li", { class: "ok", text: "no problem found by the diagnostics" }));
    $("findings").replaceChildren(...items);
    $("nan-box").hidden = !nan.length;
    $("nan-box").replaceChildren(...nan);
    const box = $("diag");
    for (const k of ["a", "b"]) {
      let sub = document.getElementById(`diag-${k}`);
      if (!f.runs[k]) { if (sub) sub.remove(); continue; }
      if (!sub) {
        sub = el("div", { class: "diag-run", id: `diag-${k}` }, el("h3", { text: `run ${k.toUpperCase()}` }), el("div"));
        box.append(sub);
      }
      Diag.render(sub.lastChild, f.runs[k].layers, Charts.COLOR[k]);
    }
  }

  function onFrame(f) {
    if (f.data) state.data = f.data;
    for (const k of Object.keys(state.hist)) if (!f.runs[k]) delete state.hist[k];
    for (const [k, view] of Object.entries(f.runs)) mergeHistory(k, view);
    state.frame = f;
    if (!f.runs[state.editRun]) state.editRun = "a";
    $("edit-run-box").hidden = !f.compare;
    $("edit-run").value = state.editRun;
    $("compare").checked = f.compare;
    $("export-run").querySelector("option[value=b]").disabled = !f.compare;
    if (!f.compare) $("export-run").value = "a";
    $("play").textContent = f.playing ? "⏸ pause" : "▶ play";
    const lead = Object.values(f.runs).reduce((p, q) => (q.step > p.step ? q : p));  // a halted run stops counting
    $("step-count").textContent = lead.step;
    $("epoch-count").textContent = (lead.epoch || 0).toFixed(1);
    $("data-note").textContent = state.data ? state.data.note : "";
    $("preset-banner").hidden = !f.preset;
    if (f.preset) { $("preset-title").textContent = f.preset.title + ":"; $("preset-text").textContent = f.preset.look_for; }
    if (!f.preset) $("preset").value = "";
    Controls.show(f.configs[state.editRun], state.data);
    const hash = Controls.toHash(f.configs, f.preset);
    if (hash !== state.hash) { state.hash = hash; history.replaceState(null, "", url("/", {}) + hash); }
    render(f);
    state.frames += 1;
    window.playground.frames = state.frames;
    window.playground.step = lead.step;
  }

  // ------------------------------------------------------------------ buttons
  function wire() {
    $("play").addEventListener("click", () => post(state.frame && state.frame.playing ? "pause" : "play"));
    $("step").addEventListener("click", () => post("step", { n: 1 }));
    $("reset").addEventListener("click", () => post("reset"));
    $("compare").addEventListener("change", () => post("compare", { on: $("compare").checked }));
    $("edit-run").addEventListener("change", () => {
      state.editRun = $("edit-run").value;
      if (state.frame) Controls.show(state.frame.configs[state.editRun], state.data);
    });
    $("preset").addEventListener("change", () => { if ($("preset").value) post("preset", { name: $("preset").value }); });
    $("upload").addEventListener("change", async () => {
      const file = $("upload").files[0];
      if (!file) return;
      const text = await file.text();
      const ok = await post("upload", { name: file.name, text });
      if (!ok) $("upload").value = "";
    });
    document.querySelectorAll("[data-format]").forEach((b) => b.addEventListener("click", () => download(b.dataset.format)));
  }

  async function download(format) {
    const res = await fetch(url("/api/export", { format, run: $("export-run").value }));
    if (!res.ok) {
      const out = await res.json().catch(() => ({}));
      showError(out.error || `export failed (${res.status})`);
      return;
    }
    const name = (res.headers.get("Content-Disposition") || "").match(/filename="([^"]+)"/);
    const link = el("a", { href: URL.createObjectURL(await res.blob()), download: name ? name[1] : format });
    document.body.append(link);
    link.click();
    setTimeout(() => { URL.revokeObjectURL(link.href); link.remove(); }, 1000);
  }

  // ------------------------------------------------------------------ start
  async function restore() {
    const wanted = Controls.fromHash(location.hash);
    if (wanted.preset) return post("preset", { name: wanted.preset, play: false });
    const full = { ...state.info.options.defaults, ...wanted.a };
    if (Object.keys(wanted.a).length || location.hash.length > 1) await change(full, "a");
    if (wanted.b) await post("compare", { on: true, config: wanted.b });
    return null;
  }

  async function boot() {
    const res = await fetch(url("/api/info"));
    state.info = await res.json();
    Controls.init(state.info, (changes, run) => change(changes, run));
    wire();
    const dataRes = await fetch(url("/api/data"));
    state.data = await dataRes.json();
    await restore();
    const events = new EventSource(url("/events"));
    events.onmessage = (e) => onFrame(JSON.parse(e.data));
    events.onerror = () => { if (events.readyState === EventSource.CLOSED) showError("lost the connection to the server"); };
  }

  boot().catch((e) => showError(`the page failed to start: ${e.message}`));
})();
