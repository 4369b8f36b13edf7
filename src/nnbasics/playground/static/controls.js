/* The control panels (data, network, training) and the setup in the URL. */
"use strict";

const Controls = (() => {
  const { el } = Views;
  const $ = (id) => document.getElementById(id);
  const SPEEDS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000];
  let info = null, onChange = null, shown = null;

  function fill(select, values, label) {
    select.replaceChildren(...values.map((v) => el("option", { value: v, text: label ? label(v) : v })));
  }

  const INIT_NAMES = { zeros: "zeros", normal: "N(0, 1)", small: "N(0, 0.01²)", lecun: "LeCun (lecture's 'Xavier')",
    xavier: "Glorot", he: "He", orthogonal: "orthogonal", default: "PyTorch default" };

  function init(i, changed) {
    info = i; onChange = changed;
    const o = info.options;
    const ds = $("dataset");
    ds.replaceChildren(
      el("optgroup", { label: "2-D points" }, ...o.two_d.map((v) => el("option", { value: v, text: v }))),
      el("optgroup", { label: "your data" }, el("option", { value: "csv", text: "uploaded CSV" })),
      el("optgroup", { label: "images" }, ...o.images.map((v) => {
        const opt = el("option", { value: v, text: info.image_sets[v] ? v : `${v} (not on this machine)` });
        if (!info.image_sets[v]) opt.disabled = true;
        return opt;
      })));
    fill($("init"), o.inits, (v) => INIT_NAMES[v] || v);
    fill($("loss"), o.losses, (v) => (v === "mse" ? "MSE" : "cross-entropy"));
    fill($("optimizer"), o.optimizers, (v) => (v === "momentum" ? "SGD + momentum" : v === "nesterov"
      ? "SGD + Nesterov" : v === "sgd" ? "SGD" : v));
    fill($("schedule"), o.schedules);
    fill($("speed"), SPEEDS, (v) => `${v} step${v > 1 ? "s" : ""}/update`);
    const ps = $("preset");
    for (const p of info.presets) ps.append(el("option", { value: p.name, text: p.title }));
    document.querySelectorAll("[data-key]").forEach((input) => {
      input.addEventListener("change", () => onChange({ [input.dataset.key]: read(input) }));
      if (input.type === "range") input.addEventListener("input", () => { $(`${input.id}-out`).textContent = input.value; });
    });
    ds.addEventListener("change", () => onChange({ dataset: ds.value, ...datasetDefaults(ds.value) }));
    $("speed").addEventListener("change", () => onChange({ speed: Number($("speed").value) }, "a"));
    $("regenerate").addEventListener("click", () => onChange({ data_seed: (shown ? shown.data_seed : 0) + 1 }));
    $("add-layer").addEventListener("click", () => {
      const layers = currentLayers();
      const last = layers[layers.length - 1] || { units: 8, activation: "relu", dropout: 0 };
      onChange({ layers: [...layers, { ...last }] });
    });
  }

  /** Sensible sizes when switching between points and images. */
  function datasetDefaults(name) {
    const images = info.options.images.includes(name);
    const wasImages = shown && info.options.images.includes(shown.dataset);
    if (images && !wasImages) return { n: 2000, layers: [{ units: 64, activation: "relu", dropout: 0 }], batch_size: 32, lr: 0.003 };
    if (!images && wasImages) return { n: 400, layers: info.options.defaults.layers, batch_size: 16, lr: 0.03 };
    return {};
  }

  function read(input) {
    if (input.type === "checkbox") return input.checked;
    if (input.type === "number" || input.type === "range") return Number(input.value);
    return input.value;
  }

  function currentLayers() {
    return Array.from(document.querySelectorAll(".layer-row")).map((row) => ({
      units: Number(row.querySelector(".units").value),
      activation: row.querySelector(".act").value,
      dropout: Number(row.querySelector(".drop").value),
    }));
  }

  function layerRows(layers) {
    const box = $("layers");
    const head = el("div", { class: "layers-head" }, el("span"), el("span", { text: "units" }),
      el("span", { text: "activation" }), el("span", { text: "dropout" }), el("span"));
    const rows = layers.map((layer, i) => {
      const units = el("input", { type: "number", class: "units", min: 1, max: 1024, id: `units-${i}` });
      units.value = layer.units;
      const act = el("select", { class: "act", id: `activation-${i}` });
      fill(act, info.options.activations);
      act.value = layer.activation;
      const drop = el("input", { type: "number", class: "drop", min: 0, max: 0.95, step: 0.05, id: `dropout-${i}` });
      drop.value = layer.dropout;
      const rm = el("button", { title: "remove this layer", text: "×" });
      rm.addEventListener("click", () => onChange({ layers: currentLayers().filter((_, j) => j !== i) }));
      for (const input of [units, act, drop]) input.addEventListener("change", () => onChange({ layers: currentLayers() }));
      return el("div", { class: "layer-row" }, el("span", { class: "idx", text: `${i + 1}` }), units, act, drop, rm);
    });
    box.replaceChildren(head, ...rows);
    if (!layers.length) box.append(el("p", { class: "note", text: "no hidden layer: a linear classifier" }));
  }

  /** Show setup `cfg` in the controls (the focused one is left alone while the user types). */
  /** Show ``cfg`` in the controls; ``force`` also rewrites the control being edited (after a refused change). */
  function show(cfg, data, force = false) {
    const focused = force ? null : document.activeElement;
    document.querySelectorAll("[data-key]").forEach((input) => {
      if (input === focused) return;
      const v = cfg[input.dataset.key];
      if (input.type === "checkbox") input.checked = v; else input.value = v;
      if (input.type === "range") $(`${input.id}-out`).textContent = v;
    });
    if (focused !== $("dataset")) $("dataset").value = cfg.dataset;
    $("speed").value = cfg.speed;
    const key = JSON.stringify(cfg.layers), box = $("layers");
    if (force || (!box.contains(focused) && box.dataset.key !== key)) { layerRows(cfg.layers); box.dataset.key = key; }
    const images = info.options.images.includes(cfg.dataset);
    $("n-label").textContent = images ? "train images" : cfg.dataset === "csv" ? "rows (from the file)" : "points";
    $("n").disabled = cfg.dataset === "csv";
    $("noise").disabled = cfg.dataset === "csv" || (images && cfg.dataset !== "shapes");
    $("classes-row").hidden = !["spiral", "blobs"].includes(cfg.dataset);
    $("momentum").disabled = !["momentum", "nesterov"].includes(cfg.optimizer);
    $("schedule_steps").disabled = cfg.schedule === "constant";
    $("loss").disabled = data && data.task === "regression";
    shown = cfg;
  }

  // ---------------------------------------------------------------- URL state
  const enc = (v) => encodeURIComponent(v);
  function layersText(layers) {
    return layers.map((l) => `${l.units}-${l.activation}${l.dropout ? `-${l.dropout}` : ""}`).join(",");
  }
  function parseLayers(text) {
    if (!text) return [];
    return text.split(",").map((part) => {
      const [units, activation, dropout] = part.split("-");
      return { units: Number(units), activation, dropout: dropout === undefined ? 0 : Number(dropout) };
    });
  }
  function diff(cfg, base) {
    const out = [];
    for (const [k, v] of Object.entries(cfg)) {
      if (k === "layers") { if (layersText(v) !== layersText(base.layers)) out.push([k, layersText(v)]); }
      else if (v !== base[k]) out.push([k, typeof v === "boolean" ? (v ? 1 : 0) : v]);
    }
    return out;
  }

  /** '#dataset=xor&layers=4-tanh&b.init=he': run A's differences from the defaults, B's from A. */
  function toHash(configs, preset) {
    const parts = [];
    if (preset) parts.push(["preset", preset.name]);
    else {
      parts.push(...diff(configs.a, info.options.defaults));
      if (configs.b) parts.push(["b", 1], ...diff(configs.b, configs.a).map(([k, v]) => [`b.${k}`, v]));
    }
    return "#" + parts.map(([k, v]) => `${enc(k)}=${enc(v)}`).join("&");
  }

  /** {preset, a: changes, b: changes | null} from a hash written by toHash. */
  function fromHash(hash) {
    const out = { preset: null, a: {}, b: null };
    const defaults = info.options.defaults;
    for (const part of hash.replace(/^#/, "").split("&")) {
      if (!part) continue;
      const [rawKey, rawVal = ""] = part.split("=");
      const key = decodeURIComponent(rawKey), val = decodeURIComponent(rawVal);
      if (key === "preset") { out.preset = val; continue; }
      if (key === "b") { out.b = out.b || {}; continue; }
      const isB = key.startsWith("b."), name = isB ? key.slice(2) : key;
      if (!(name in defaults)) continue;
      const base = defaults[name];
      const value = name === "layers" ? parseLayers(val) : typeof base === "boolean" ? val === "1" || val === "true"
        : typeof base === "number" ? Number(val) : val;
      if (isB) { out.b = out.b || {}; out.b[name] = value; } else out.a[name] = value;
    }
    return out;
  }

  return { init, show, toHash, fromHash, currentLayers };
})();
