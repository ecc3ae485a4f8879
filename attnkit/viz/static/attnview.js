// attnkit attention viewer: heatmap, head view and model view of captured attention.
// No dependencies and no network: the same file is inlined into the standalone HTML and
// served by `attnkit serve`. Only a window of tokens is ever drawn, so 1,000+ token inputs
// stay responsive: the cost of a redraw is window^2 cells, not T*S.
"use strict";
(function (global) {
  const VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
  const HEAD_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
    "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#ad494a"];

  // SVG's XML namespace: a name, never fetched. Spelled in parts so that the page holds no URL
  // literal at all (the tests check that the offline viewer names no network address).
  const SVG_NS = ["http:", "", "www.w3.org", "2000", "svg"].join("/");

  function colour(v) { // v in [0, 1] -> [r, g, b]
    const x = Math.max(0, Math.min(1, v)) * (VIRIDIS.length - 1);
    const i = Math.min(Math.floor(x), VIRIDIS.length - 2), f = x - i;
    return VIRIDIS[i].map((c, k) => Math.round(c + f * (VIRIDIS[i + 1][k] - c)));
  }

  async function inflate(b64) { // base64(gzip(uint8)) -> Uint8Array
    const bin = atob(b64);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  }

  function el(tag, attrs, parent) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "text") e.textContent = v; else if (k === "class") e.className = v; else e.setAttribute(k, v);
    }
    if (parent) parent.appendChild(e);
    return e;
  }

  function select(parent, label, options, value) {
    const wrap = el("label", { class: "ak-ctl" }, parent);
    wrap.appendChild(document.createTextNode(label + " "));
    const s = el("select", {}, wrap);
    for (const [v, text] of options) el("option", { value: String(v), text }, s);
    s.value = String(value);
    return s;
  }

  class Stream {
    constructor(p, data) {
      Object.assign(this, p);
      [this.L, this.H, this.T, this.S] = p.shape;
      this.data = data;
    }
    // Weight in [0, 1] of query t, key s; layer/head index -1 means the mean over them.
    at(l, h, t, s) {
      const ls = l < 0 ? [...Array(this.L).keys()] : [l];
      const hs = h < 0 ? [...Array(this.H).keys()] : [h];
      let sum = 0;
      for (const a of ls) for (const b of hs) sum += this.data[((a * this.H + b) * this.T + t) * this.S + s];
      return sum / (255 * ls.length * hs.length);
    }
  }

  class Viewer {
    constructor(root, payload, streams) {
      this.root = root;
      this.payload = payload;
      this.streams = streams;
      // Cross-attention (the alignment) is what a translation's reader wants first.
      const cross = streams.findIndex((x) => x.name === "cross");
      this.state = { stream: Math.max(cross, 0), view: "heatmap", layer: -1, head: -1, qFrom: 0, kFrom: 0, size: 48, scale: "map" };
      root.classList.add("ak-viewer");
      this.controls = el("div", { class: "ak-controls" }, root);
      this.body = el("div", { class: "ak-body" }, root);
      this.tip = el("div", { class: "ak-tip", hidden: "" }, root);
      this.buildControls();
      this.draw();
    }

    get s() { return this.streams[this.state.stream]; }

    buildControls() {
      const c = this.controls, st = this.state;
      c.textContent = "";
      const s = this.s;
      // Method first (attention maps, or an attribution method's output × input table), then
      // the streams of that method.
      const methods = [...new Set(this.streams.map((x) => x.method || "attention"))];
      if (methods.length > 1) {
        const mSel = select(c, "method", methods.map((m) => [m, m === "attention" ? "attention maps" : this.streams.find((x) => x.method === m).title]), s.method || "attention");
        mSel.classList.add("ak-method");
        mSel.onchange = () => {
          const i = this.streams.findIndex((x) => (x.method || "attention") === mSel.value);
          Object.assign(st, { stream: i, layer: -1, head: -1, qFrom: 0, kFrom: 0 });
          if (mSel.value !== "attention") st.view = "heatmap";
          this.buildControls(); this.draw();
        };
      }
      const mine = this.streams.map((x, i) => [x, i]).filter(([x]) => (x.method || "attention") === (s.method || "attention"));
      const sSel = select(c, mine.length > 1 ? "attention" : "stream", mine.map(([x, i]) => [i, `${x.title} (${x.T}×${x.S})`]), st.stream);
      sSel.onchange = () => { Object.assign(st, { stream: +sSel.value, layer: -1, head: -1, qFrom: 0, kFrom: 0 }); this.buildControls(); this.draw(); };
      const vSel = select(c, "view", [["heatmap", "heatmap"], ["head", "head view (links)"], ["model", "model view (all heads)"]], st.view);
      vSel.onchange = () => { st.view = vSel.value; this.draw(); };
      const lSel = select(c, "layer", [[-1, "mean of layers"], ...s.layers.map((l, i) => [i, `layer ${l}`])], st.layer);
      lSel.onchange = () => { st.layer = +lSel.value; this.draw(); };
      const hSel = select(c, "head", [[-1, "mean of heads"], ...s.heads.map((h, i) => [i, `head ${h}`])], st.head);
      hSel.onchange = () => { st.head = +hSel.value; this.draw(); };
      // Near-uniform maps are one colour on a 0..max scale: per-row and log scales show their structure.
      const cSel = select(c, "colour", [["map", "0 to the map's max"], ["row", "0 to each row's max"], ["log", "log scale"]], st.scale);
      cSel.onchange = () => { st.scale = cSel.value; this.draw(); };
      const zSel = select(c, "window", [16, 32, 48, 64, 96, 128, 192].map((n) => [n, `${n} tokens`]), st.size);
      zSel.onchange = () => { st.size = +zSel.value; this.buildControls(); this.draw(); };
      this.slider(c, "queries from", "qFrom", s.T);
      this.slider(c, "keys from", "kFrom", s.S);
      const png = el("button", { type: "button", class: "ak-save-png", text: "save PNG" }, c);
      png.onclick = () => this.savePng();
      const svg = el("button", { type: "button", class: "ak-save-svg", text: "save SVG" }, c);
      svg.onclick = () => this.saveSvg();
      this.lSel = lSel; this.hSel = hSel;
    }

    download(name, url) {
      const a = el("a", { href: url, download: name }, this.root);
      a.click(); a.remove();
    }

    // The current view as a PNG: the heatmap's cells (or the links canvas) at their drawn size.
    savePng() {
      const src = this.body.querySelector("canvas");
      if (!src) return;
      const out = document.createElement("canvas");
      out.width = src.clientWidth || src.width; out.height = src.clientHeight || src.height;
      const ctx = out.getContext("2d");
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(src, 0, 0, out.width, out.height);
      const url = out.toDataURL("image/png");
      this.root.dataset.savedPng = String(url.length);
      this.download(`${this.s.name}.png`, url);
    }

    // The current heatmap window as an SVG: one rect per cell, with the token labels as text.
    saveSvg() {
      const st = this.state, s = this.s, w = this.window(), cell = 14, pad = 90;
      const esc = (t) => String(t).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
      const rows = w.q1 - w.q0, cols = w.k1 - w.k0;
      let max = 1e-6;
      for (let t = w.q0; t < w.q1; t++) for (let k = w.k0; k < w.k1; k++) max = Math.max(max, s.at(st.layer, st.head, t, k));
      const parts = [`<svg xmlns="${SVG_NS}" width="${pad + cols * cell}" height="${pad + rows * cell}" font-family="sans-serif" font-size="10">`];
      parts.push(`<title>${esc(s.title)}</title>`);
      for (let k = 0; k < cols; k++) parts.push(`<text transform="translate(${pad + k * cell + 10},${pad - 4}) rotate(-60)">${esc(s.keys[w.k0 + k])}</text>`);
      for (let t = 0; t < rows; t++) {
        parts.push(`<text x="${pad - 4}" y="${pad + t * cell + 10}" text-anchor="end">${esc(s.queries[w.q0 + t])}</text>`);
        for (let k = 0; k < cols; k++) {
          const [r, g, b] = colour(s.at(st.layer, st.head, w.q0 + t, w.k0 + k) / max);
          parts.push(`<rect x="${pad + k * cell}" y="${pad + t * cell}" width="${cell}" height="${cell}" fill="rgb(${r},${g},${b})"/>`);
        }
      }
      parts.push("</svg>");
      const text = parts.join("");
      this.root.dataset.savedSvg = String(rows * cols);
      this.download(`${s.name}.svg`, "data:image/svg+xml;charset=utf-8," + encodeURIComponent(text));
    }

    slider(parent, label, key, n) {
      const st = this.state;
      const max = Math.max(0, n - st.size);
      st[key] = Math.min(st[key], max);
      const wrap = el("label", { class: "ak-ctl" }, parent);
      wrap.appendChild(document.createTextNode(label + " "));
      const r = el("input", { type: "range", min: "0", max: String(max), value: String(st[key]), class: "ak-" + key }, wrap);
      const out = el("span", { class: "ak-range" }, wrap);
      const show = () => { out.textContent = `${st[key]}–${Math.min(n, st[key] + st.size) - 1} of ${n}`; };
      show();
      if (max === 0) r.disabled = true;
      // Redraw on every input event: a window redraw is cheap, so dragging stays live.
      r.oninput = () => { st[key] = +r.value; show(); this.draw(); };
    }

    window() {
      const st = this.state, s = this.s;
      // Self-attention maps are square: keep the key window on the query window unless moved.
      const q0 = st.qFrom, k0 = st.kFrom;
      return { q0, q1: Math.min(s.T, q0 + st.size), k0, k1: Math.min(s.S, k0 + st.size) };
    }

    draw() {
      const t0 = performance.now();
      this.body.textContent = "";
      this.tip.hidden = true;
      const v = this.state.view;
      if (v === "heatmap") this.drawHeatmap(); else if (v === "head") this.drawHeadView(); else this.drawModelView();
      this.root.dataset.drawMs = (performance.now() - t0).toFixed(1);
      this.root.dataset.ready = "1";
    }

    // Paints rows q0..q1 x cols k0..k1 of (layer, head) into a canvas, one pixel per cell, then
    // lets CSS scale it up without smoothing: one putImageData instead of a fillRect per cell.
    paint(canvas, l, h, w) {
      const s = this.s, rows = w.q1 - w.q0, cols = w.k1 - w.k0;
      canvas.width = cols; canvas.height = rows;
      const vals = new Float32Array(rows * cols);
      let max = 1e-6;
      for (let t = 0; t < rows; t++) for (let k = 0; k < cols; k++) {
        const x = s.at(l, h, w.q0 + t, w.k0 + k);
        vals[t * cols + k] = x; if (x > max) max = x;
      }
      const ctx = canvas.getContext("2d"), img = ctx.createImageData(cols, rows);
      const scale = this.state.scale || "map", floor = Math.log(1e-4);
      for (let t = 0; t < rows; t++) {
        let top = max;
        if (scale === "row") { top = 1e-6; for (let k = 0; k < cols; k++) top = Math.max(top, vals[t * cols + k]); }
        for (let k = 0; k < cols; k++) {
          const x = vals[t * cols + k];
          const v = scale === "log" ? (Math.log(Math.max(x, 1e-4)) - floor) / (Math.log(max) - floor) : x / top;
          img.data.set([...colour(v), 255], 4 * (t * cols + k));
        }
      }
      canvas.dataset.scale = scale;
      ctx.putImageData(img, 0, 0);
      canvas.dataset.cells = String(rows * cols);
      canvas.dataset.max = max.toFixed(4);
      return vals;
    }

    drawHeatmap() {
      const st = this.state, s = this.s, w = this.window();
      const rows = w.q1 - w.q0, cols = w.k1 - w.k0;
      const cell = Math.max(8, Math.min(28, Math.floor(640 / Math.max(rows, cols))));
      const grid = el("div", { class: "ak-heat" }, this.body);
      grid.style.gridTemplateColumns = `auto ${cols * cell}px`;
      el("div", {}, grid);
      const top = el("div", { class: "ak-cols" }, grid);
      for (let k = w.k0; k < w.k1; k++) {
        const d = el("div", { class: "ak-tok ak-col", text: s.keys[k], title: `key ${k}: ${s.keys[k]}` }, top);
        d.style.width = cell + "px";
      }
      const left = el("div", { class: "ak-rows" }, grid);
      for (let t = w.q0; t < w.q1; t++) {
        const d = el("div", { class: "ak-tok ak-row", text: s.queries[t], title: `query ${t}: ${s.queries[t]}` }, left);
        d.style.height = cell + "px"; d.style.lineHeight = cell + "px";
      }
      const canvas = el("canvas", { class: "ak-canvas ak-heatmap" }, grid);
      canvas.style.width = cols * cell + "px"; canvas.style.height = rows * cell + "px";
      const vals = this.paint(canvas, st.layer, st.head, w);
      canvas.onmousemove = (e) => {
        const r = canvas.getBoundingClientRect();
        const k = Math.floor((e.clientX - r.left) / cell), t = Math.floor((e.clientY - r.top) / cell);
        if (t < 0 || k < 0 || t >= rows || k >= cols) return;
        this.showTip(e, `${s.queries[w.q0 + t]} → ${s.keys[w.k0 + k]}: ${vals[t * cols + k].toFixed(3)}`);
      };
      canvas.onmouseleave = () => { this.tip.hidden = true; };
      const range = { map: `0 (dark) to ${canvas.dataset.max} (yellow)`, row: "0 to each row's own maximum (yellow)",
                      log: `log scale, 1e-4 (dark) to ${canvas.dataset.max} (yellow)` }[st.scale || "map"];
      el("div", { class: "ak-note", text: `colour: ${range}; rows attend to columns` }, this.body);
    }

    // bertviz-style links: queries on the left, keys on the right, one line per pair, opacity =
    // weight. With "mean of heads" each head draws in its own colour. Hover a token to isolate it.
    drawHeadView() {
      const st = this.state, s = this.s, w = this.window();
      const rowH = 20, n = Math.max(w.q1 - w.q0, w.k1 - w.k0), width = 520;
      const wrap = el("div", { class: "ak-headview" }, this.body);
      const left = el("div", { class: "ak-side" }, wrap);
      const canvas = el("canvas", { class: "ak-canvas ak-links", width: String(width), height: String(n * rowH) }, wrap);
      const right = el("div", { class: "ak-side" }, wrap);
      const heads = st.head < 0 ? [...Array(s.H).keys()] : [st.head];
      let focus = -1;
      const paint = () => {
        const ctx = canvas.getContext("2d");
        ctx.clearRect(0, 0, width, n * rowH);
        let lines = 0;
        for (const h of heads) {
          ctx.strokeStyle = HEAD_COLORS[s.heads[h] % HEAD_COLORS.length];
          for (let t = w.q0; t < w.q1; t++) {
            if (focus >= 0 && t !== focus) continue;
            for (let k = w.k0; k < w.k1; k++) {
              const a = s.at(st.layer, h, t, k);
              if (a < 0.02) continue;
              ctx.globalAlpha = Math.min(1, a * (focus >= 0 ? 1.5 : 1));
              ctx.lineWidth = 0.5 + 2.5 * a;
              ctx.beginPath();
              ctx.moveTo(0, (t - w.q0 + 0.5) * rowH);
              ctx.lineTo(width, (k - w.k0 + 0.5) * rowH);
              ctx.stroke();
              lines++;
            }
          }
        }
        ctx.globalAlpha = 1;
        canvas.dataset.lines = String(lines);
      };
      for (let t = w.q0; t < w.q1; t++) {
        const d = el("div", { class: "ak-tok", text: s.queries[t] }, left);
        d.style.height = rowH + "px";
        d.onmouseenter = () => { focus = t; paint(); };
        d.onmouseleave = () => { focus = -1; paint(); };
      }
      for (let k = w.k0; k < w.k1; k++) el("div", { class: "ak-tok", text: s.keys[k] }, right).style.height = rowH + "px";
      paint();
      const legend = el("div", { class: "ak-note" }, this.body);
      legend.textContent = "queries (left) attend to keys (right); hover a query to isolate its links. ";
      for (const h of heads) {
        const sw = el("span", { class: "ak-swatch", text: `head ${s.heads[h]}` }, legend);
        sw.style.borderColor = HEAD_COLORS[s.heads[h] % HEAD_COLORS.length];
      }
    }

    drawModelView() {
      const s = this.s, w = this.window(), st = this.state;
      const grid = el("div", { class: "ak-model" }, this.body);
      grid.style.gridTemplateColumns = `auto repeat(${s.H}, 96px)`;
      el("div", {}, grid);
      for (const h of s.heads) el("div", { class: "ak-note", text: `head ${h}` }, grid);
      for (let l = 0; l < s.L; l++) {
        el("div", { class: "ak-note", text: `layer ${s.layers[l]}` }, grid);
        for (let h = 0; h < s.H; h++) {
          const c = el("canvas", { class: "ak-canvas ak-thumb", title: `layer ${s.layers[l]}, head ${s.heads[h]}: click to open` }, grid);
          this.paint(c, l, h, w);
          c.onclick = () => { Object.assign(st, { layer: l, head: h, view: "heatmap" }); this.buildControls(); this.draw(); };
        }
      }
      el("div", { class: "ak-note", text: `tokens ${w.q0}–${w.q1 - 1} (queries) × ${w.k0}–${w.k1 - 1} (keys); each map is scaled to its own maximum` }, this.body);
    }

    showTip(e, text) {
      const r = this.root.getBoundingClientRect();
      this.tip.textContent = text;
      this.tip.hidden = false;
      this.tip.style.left = e.clientX - r.left + 12 + "px";
      this.tip.style.top = e.clientY - r.top + 12 + "px";
    }
  }

  // Renders `payload` (attnkit.viz.payload.view_payload) into `root`; resolves to the Viewer.
  async function render(root, payload) {
    root.textContent = "";
    root.dataset.ready = "0";
    if (!payload.streams || !payload.streams.length) {
      el("div", { class: "ak-note", text: "this model has no attention maps to show" }, root);
      root.dataset.ready = "1";
      return null;
    }
    const streams = [];
    for (const p of payload.streams) streams.push(new Stream(p, await inflate(p.data)));
    return new Viewer(root, payload, streams);
  }

  global.AttnView = { render, inflate, el };
})(window);
