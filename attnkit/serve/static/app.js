// attnkit web app: one panel per task the loaded checkpoints support. Every action is a POST to
// the JSON API (/docs lists it); the attention view comes back with each result.
"use strict";
(function () {
  const VERBS = {
    generate: { title: "Generate", field: "prompt", example: "ROMEO:" },
    translate: { title: "Translate", field: "source text", example: "Ein Mann fährt Fahrrad." },
    summarize: { title: "Summarize", field: "document", example: "Amanda: I baked cookies. Do you want some?\nJerry: Sure!\nAmanda: I'll bring you tomorrow :-)" },
    chat: { title: "Chat", field: "your message", example: "Hi, how are you?" },
    classify: { title: "Classify", field: "text", example: "a charming and funny film" },
    embed: { title: "Embed", field: "sentence", example: "A man is playing a guitar on stage." },
    "zero-shot": { title: "Zero-shot", field: "text", example: "The plot is dull and the acting is worse." },
    transcribe: { title: "Transcribe", field: "WAV file", example: "" },
  };
  const $ = (id) => document.getElementById(id);
  let info = null, chatHistory = [];

  const node = AttnView.el; // the viewer script loads first and shares its DOM helper

  function showError(msg) { const e = $("error"); e.textContent = msg; e.hidden = !msg; }

  async function post(verb, body) {
    const r = await fetch("/api/" + verb, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    return reply(r);
  }

  // A WAV upload is the request body itself; options go in the query string.
  async function upload(form) {
    const file = form.querySelector("input.audio").files[0];
    if (!file) throw new Error("choose a WAV file first");
    if (file.size > info.limits.max_audio_bytes) throw new Error(`413: the file is ${file.size.toLocaleString()} bytes; this server accepts at most ${info.limits.max_audio_bytes.toLocaleString()}`);
    const q = new URLSearchParams({ model: form.querySelector("select.model").value, attention: "true" });
    const beam = form.querySelector("input.beam");
    if (beam && beam.value) q.set("beam", beam.value);
    if (form.querySelector("input.split").checked) q.set("split_on_silence", "true");
    const r = await fetch("/api/transcribe?" + q, { method: "POST", headers: { "Content-Type": "audio/wav" }, body: file });
    return reply(r);
  }

  async function reply(r) {
    const data = await r.json().catch(() => ({ error: `HTTP ${r.status}` }));
    if (!r.ok) {
      const msg = data.error || (Array.isArray(data.detail) ? data.detail.map((d) => d.msg).join("; ") : JSON.stringify(data));
      throw new Error(`${r.status}: ${msg}`);
    }
    return data;
  }

  function renderOutput(verb, res) {
    const out = $("output");
    out.textContent = "";
    if (verb === "embed") {
      const v = res.output.embedding;
      out.textContent = `${res.output.dim}-d embedding (L2-normalised): [${v.slice(0, 8).map((x) => x.toFixed(3)).join(", ")}, …]`;
    } else if (verb === "classify" || verb === "zero-shot") {
      node("div", { text: `label: ${res.output.label}`, class: "label" }, out);
      const t = node("table", { class: "probs" }, out);
      for (const [k, p] of Object.entries(res.output.probs).sort((a, b) => b[1] - a[1])) {
        const tr = node("tr", {}, t);
        node("td", { text: k }, tr);
        node("td", { text: p.toFixed(3) }, tr);
        node("span", { class: "bar" }, node("td", {}, tr)).style.width = Math.round(200 * p) + "px";
      }
    } else if (verb === "transcribe") {
      node("div", { class: "label", text: res.output || "(empty transcript)" }, out);
      const cut = res.pieces ? ` · cut at pauses into ${res.pieces.length} piece(s): ${res.pieces.map(([a, b]) => `${a}–${b} s`).join(", ")}` : "";
      node("div", { class: "meta", text: `${res.audio.seconds} s at ${res.audio.sample_rate} Hz${cut}` }, out);
      if (res.figure) node("img", { class: "figure", src: res.figure, alt: "spectrogram with the letters-by-time cross-attention" }, out);
    } else if (verb === "chat") {
      out.textContent = "";  // the reply is in the conversation above; showing it here too doubled it
    } else {
      out.textContent = res.output || "(empty output)";
    }
    $("meta").textContent = [`model ${res.model} · ${res.elapsed_ms} ms`, ...(res.notes || [])].join(" · ");
  }

  async function submit(verb, form) {
    showError("");
    const btn = form.querySelector("button.go");
    btn.disabled = true;
    const label = btn.textContent;
    btn.textContent = "working…";  // long requests (a 1 MB upload, a big model) say they are running
    form.setAttribute("aria-busy", "true");
    $("ak-view").dataset.ready = "0";  // tests and users wait for this to turn "1"
    const text = verb === "transcribe" ? "" : form.querySelector("textarea").value;
    const body = { model: form.querySelector("select.model").value, attention: true };
    const beam = form.querySelector("input.beam");
    if (beam && beam.value) body.beam = +beam.value;
    if (verb === "chat") body.history = [...chatHistory, text];
    else body.text = text;
    if (verb === "generate") body.max_new_tokens = +form.querySelector("input.ntok").value;
    if (verb === "zero-shot") body.labels = form.querySelector("input.labels").value;
    const attrib = form.querySelector("input.attrib");
    if (attrib && attrib.checked) body.methods = ["ig", "occlusion", "grad_input", "value_norm"];
    try {
      const res = verb === "transcribe" ? await upload(form) : await post(verb, body);
      if (verb === "chat") {
        chatHistory = [...body.history, res.output];
        drawChat(form);
        form.querySelector("textarea").value = "";
      }
      $("result").hidden = false;
      renderOutput(verb, res);
      if (res.attention) await AttnView.render($("ak-view"), res.attention);
      else { $("ak-view").textContent = noViewReason(res); $("ak-view").dataset.ready = "1"; }
    } catch (e) {
      showError(String(e.message || e));
    } finally {
      btn.disabled = false;
      btn.textContent = label;
      form.removeAttribute("aria-busy");
    }
  }

  function noViewReason(res) {
    if (res.pieces) return "no attention view when the recording is cut at pauses: each piece is decoded on its own";
    const m = info.models.find((x) => x.name === res.model);
    if (m && m.attention) return "no attention view for this request";
    return "this model has no attention layers (an RNN or CNN baseline)";
  }

  function drawChat(form) {
    const log = form.querySelector(".chatlog");
    log.textContent = "";
    chatHistory.forEach((t, i) => node("div", { class: "turn " + (i % 2 ? "bot" : "you"), text: (i % 2 ? "B: " : "A: ") + t }, log));
  }

  function showPanel(verb) {
    for (const b of document.querySelectorAll("#tabs button")) b.setAttribute("aria-selected", String(b.dataset.verb === verb));
    const panel = $("panel");
    panel.textContent = "";
    $("result").hidden = true;
    showError("");
    const v = VERBS[verb];
    const form = node("form", { id: "form-" + verb }, panel);
    const models = info.models.filter((m) => m.verbs.includes(verb));
    const row = node("div", { class: "row" }, form);
    const lab = node("label", { text: "model " }, row);
    const sel = node("select", { class: "model", name: "model" }, lab);
    for (const m of models) node("option", { value: m.name, text: `${m.name} (${m.arch}, ${(m.parameters / 1e6).toFixed(1)}M params)` }, sel);
    if (verb === "generate") {
      const l = node("label", { text: "new tokens " }, row);
      node("input", { class: "ntok", type: "number", min: "1", max: String(info.limits.max_new_tokens), value: "60" }, l);
    }
    if (verb === "translate" || verb === "summarize" || verb === "chat" || verb === "transcribe") {
      const l = node("label", { text: "beam " }, row);
      node("input", { class: "beam", type: "number", min: "1", max: "16", placeholder: "recipe" }, l);
    }
    if (["generate", "translate", "summarize", "classify"].includes(verb)) {
      const l = node("label", { text: " attributions " }, row);
      node("input", { class: "attrib", type: "checkbox", title: "add integrated gradients, occlusion, gradient × input and value-norm attention to the view (slower)" }, l);
    }
    if (verb === "zero-shot") {
      const l = node("label", { text: "labels " }, row);
      const inp = node("input", { class: "labels", size: "60" }, l);
      inp.value = "positive=a positive review; negative=a negative review";
    }
    if (verb === "chat") {
      node("div", { class: "chatlog" }, form);
      const reset = node("button", { type: "button", text: "new conversation" }, row);
      reset.onclick = () => { chatHistory = []; drawChat(form); };
      drawChat(form);
    }
    if (verb === "transcribe") {
      const l = node("label", { text: `WAV file (16-bit PCM, up to ${info.limits.max_audio_seconds} s) ` }, form);
      node("input", { class: "audio", type: "file", accept: ".wav,audio/wav,audio/x-wav" }, l);
      const c = node("label", { text: " cut at pauses (one word per piece) " }, form);
      node("input", { class: "split", type: "checkbox" }, c);
    } else {
      const ta = node("textarea", { name: "text", placeholder: v.field, maxlength: String(info.limits.max_input_chars) }, form);
      ta.value = v.example;
    }
    node("button", { class: "go", type: "submit", text: v.title }, form);
    form.onsubmit = (e) => { e.preventDefault(); submit(verb, form); };
  }

  async function start() {
    try {
      const r = await fetch("/api/models");
      info = await r.json();
    } catch (e) {
      showError("cannot reach the attnkit server: " + e);
      return;
    }
    const verbs = Object.keys(VERBS).filter((v) => info.models.some((m) => m.verbs.includes(v)));
    const tabs = $("tabs");
    for (const v of verbs) {
      const b = node("button", { type: "button", text: VERBS[v].title, role: "tab" }, tabs);
      b.dataset.verb = v;
      b.onclick = () => showPanel(v);
    }
    if (verbs.length) showPanel(verbs[0]);
    else $("panel").textContent = "no loaded model has a task this app knows";
  }
  start();
})();
