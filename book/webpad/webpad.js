// The browser sketch pad: the reader draws, the model finishes the drawing nine ways, in the page.
// An ES module, no build step; the model side is webpad-core.js. The page that embeds it holds
//   <div class="webpad" data-models='[{"folder": "quickdraw-face", "label": "..."}, ...]'>message</div>
// and loads this file with <script type="module">. Files are looked up beside this module:
// webpad-runtime/ (onnxruntime-web) and webpad-models/FOLDER/ (python -m sketchlib export).

import {
  MIN_MOVE, NO_WASM, RDP_EPSILON, Random, Sampler, WebModel, hasWebAssembly, loadRuntime, padToStroke3, rdp,
  stroke3ToRows,
} from "./webpad-core.js";

const HERE = new URL("./", import.meta.url);
const RUNTIME_URL = new URL("webpad-runtime/", HERE);
const MODELS_URL = new URL("webpad-models/", HERE);

const PAD = 360; // the pad's logical size in CSS pixels; the canvas has devicePixelRatio times as many
const CELL = PAD / 3; // each of the nine endings: the whole pad at a third of its size
const ENDINGS = 9;
const FINISH_AFTER = 4; // "finish it" once the reader has drawn this many (simplified) points
const USER_COLOR = "#1f2933";
const MODEL_COLOR = "#d62728"; // the model's strokes, red, as in chapter 9's pad
const DEFAULT_TEMPERATURE = 0.25;

function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") node.textContent = v;
    else if (k === "class") node.className = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

function hidpi(canvas, size) {
  const dpr = Math.max(1, window.devicePixelRatio || 1);
  canvas.width = Math.round(size * dpr);
  canvas.height = Math.round(size * dpr);
  canvas.style.width = `${size}px`;
  canvas.style.height = `${size}px`;
  return dpr;
}

const nextFrame = () => new Promise((resolve) => requestAnimationFrame(() => resolve()));

class WebPad {
  constructor(root) {
    this.root = root;
    this.models = JSON.parse(root.dataset.models || "[]");
    this.strokes = []; // the reader's strokes: absolute pad polylines [[x, y], ...]
    this.current = null; // the stroke being drawn
    this.model = null;
    this.generation = 0; // bumped to stop a running set of endings
    this.job = Promise.resolve();
    this.runs = 0;
    this.build();
  }

  // ---------------------------------------------------------------- the page
  build() {
    const r = this.root;
    r.textContent = "";
    r.dataset.state = "loading";
    this.modelSelect = el("select", { "aria-label": "model" });
    this.models.forEach((m, i) => this.modelSelect.append(el("option", { value: String(i), text: m.label })));
    this.classSelect = el("select", { "aria-label": "class" });
    this.classLabel = el("label", { class: "webpad-class" }, ["Draw a ", this.classSelect]);
    this.temperature = el("input", { type: "range", min: "0.01", max: "1", step: "0.01",
      value: String(DEFAULT_TEMPERATURE), "aria-label": "temperature" });
    this.temperatureValue = el("output", { text: DEFAULT_TEMPERATURE.toFixed(2) });
    this.seed = el("input", { type: "number", min: "0", step: "1", value: "1", "aria-label": "seed" });
    this.finishButton = el("button", { type: "button", text: "Finish it" });
    this.undoButton = el("button", { type: "button", text: "Undo" });
    this.clearButton = el("button", { type: "button", text: "Clear" });
    const controls = el("div", { class: "webpad-controls" }, [
      el("label", {}, ["Model ", this.modelSelect]),
      this.classLabel,
      el("label", {}, ["Temperature ", this.temperature, " ", this.temperatureValue]),
      el("label", {}, ["Seed ", this.seed]),
      this.finishButton, this.undoButton, this.clearButton,
    ]);
    this.pad = el("canvas", { class: "webpad-pad", "aria-label": "drawing pad" });
    this.overlay = el("div", { class: "webpad-overlay", role: "status" });
    const padWrap = el("div", { class: "webpad-padwrap" }, [this.pad, this.overlay]);
    this.cells = [];
    const grid = el("div", { class: "webpad-grid", "aria-label": "nine endings" });
    for (let i = 0; i < ENDINGS; i++) {
      const c = el("canvas", { class: "webpad-cell" });
      grid.append(c);
      this.cells.push(c);
    }
    this.status = el("p", { class: "webpad-status", role: "status", "aria-live": "polite" });
    r.append(controls, el("div", { class: "webpad-main" }, [padWrap, grid]), this.status);

    this.padScale = hidpi(this.pad, PAD);
    this.cellScale = this.cells.map((c) => hidpi(c, CELL))[0];
    this.redrawPad();
    this.cells.forEach((c) => this.redrawCell(c));
    this.listen();
    this.setBusy(true);
  }

  message(text, kind = "info") {
    this.status.textContent = text;
    this.status.dataset.kind = kind;
  }

  overlayMessage(text) {
    this.overlay.textContent = text || "";
    this.overlay.hidden = !text;
  }

  setBusy(busy) {
    for (const c of [this.modelSelect, this.classSelect, this.finishButton]) c.disabled = busy;
    if (!busy) this.updateButtons();
  }

  updateButtons() {
    this.finishButton.disabled = !this.model || this.pointCount() < FINISH_AFTER;
    this.undoButton.disabled = !this.strokes.length;
  }

  pointCount() {
    return this.strokes.reduce((n, s) => n + s.length, 0);
  }

  // ---------------------------------------------------------------- drawing
  padPoint(event) {
    const rect = this.pad.getBoundingClientRect();
    return [(event.clientX - rect.left) * (PAD / rect.width), (event.clientY - rect.top) * (PAD / rect.height)];
  }

  listen() {
    const pad = this.pad;
    pad.addEventListener("pointerdown", (e) => {
      if (!this.model) return;
      e.preventDefault();
      pad.setPointerCapture(e.pointerId);
      this.stop();
      this.cells.forEach((c) => this.redrawCell(c));
      this.current = [this.padPoint(e)];
      this.dot(this.current[0]);
    });
    pad.addEventListener("pointermove", (e) => {
      if (!this.current) return;
      e.preventDefault();
      const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [e];
      for (const ev of events.length ? events : [e]) {
        const p = this.padPoint(ev);
        const last = this.current[this.current.length - 1];
        if (Math.hypot(p[0] - last[0], p[1] - last[1]) < MIN_MOVE) continue; // jitter
        this.current.push(p);
        this.segment(last, p);
      }
    });
    const up = (e) => {
      if (!this.current) return;
      e.preventDefault();
      const stroke = rdp(this.current, RDP_EPSILON);
      this.current = null;
      this.strokes.push(stroke);
      this.redrawPad();
      this.updateButtons();
      if (this.pointCount() >= FINISH_AFTER) this.restart();
    };
    pad.addEventListener("pointerup", up);
    pad.addEventListener("pointercancel", up);

    this.finishButton.addEventListener("click", () => this.restart());
    this.undoButton.addEventListener("click", () => {
      this.stop();
      this.strokes.pop();
      this.redrawPad();
      this.updateButtons();
      if (this.pointCount() >= FINISH_AFTER) this.restart();
      else this.cells.forEach((c) => this.redrawCell(c));
    });
    this.clearButton.addEventListener("click", () => {
      this.stop();
      this.strokes = [];
      this.redrawPad();
      this.cells.forEach((c) => this.redrawCell(c));
      this.updateButtons();
      this.message("Draw the start of a drawing; the model finishes it nine ways.");
    });
    this.temperature.addEventListener("input", () => {
      this.temperatureValue.textContent = Number(this.temperature.value).toFixed(2);
      this.restartIfDrawn();
    });
    this.seed.addEventListener("change", () => this.restartIfDrawn());
    this.classSelect.addEventListener("change", () => this.restartIfDrawn());
    this.modelSelect.addEventListener("change", () => this.useModel(Number(this.modelSelect.value)));
  }

  ctx(canvas, scale) {
    const ctx = canvas.getContext("2d");
    ctx.setTransform(scale, 0, 0, scale, 0, 0);
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    return ctx;
  }

  segment(a, b, canvas = this.pad, color = USER_COLOR) {
    const cell = canvas !== this.pad;
    const ctx = this.ctx(canvas, cell ? this.cellScale * CELL / PAD : this.padScale);
    ctx.strokeStyle = color;
    ctx.lineWidth = cell ? 5 : 3; // in pad pixels: a cell line is a third as wide on screen
    ctx.beginPath();
    ctx.moveTo(a[0], a[1]);
    ctx.lineTo(b[0], b[1]);
    ctx.stroke();
  }

  dot(p) {
    const ctx = this.ctx(this.pad, this.padScale);
    ctx.fillStyle = USER_COLOR;
    ctx.beginPath();
    ctx.arc(p[0], p[1], 1.5, 0, 2 * Math.PI);
    ctx.fill();
  }

  clearCanvas(canvas) {
    const ctx = canvas.getContext("2d");
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
  }

  redrawPad() {
    this.clearCanvas(this.pad);
    this.drawStrokes(this.pad, this.strokes, USER_COLOR);
  }

  redrawCell(canvas) {
    this.clearCanvas(canvas);
    this.drawStrokes(canvas, this.strokes, USER_COLOR);
  }

  drawStrokes(canvas, strokes, color) {
    for (const s of strokes) {
      if (s.length === 1) this.segment(s[0], s[0], canvas, color);
      for (let k = 1; k < s.length; k++) this.segment(s[k - 1], s[k], canvas, color);
    }
  }

  // ---------------------------------------------------------------- the model
  async start() {
    if (!this.models.length) {
      this.fail("this page lists no models (data-models is empty)");
      return;
    }
    if (!hasWebAssembly()) {
      this.fail(NO_WASM);
      return;
    }
    this.overlayMessage("Loading the model…");
    this.message("Loading the model runtime (onnxruntime-web) and the model…");
    this.ort = loadRuntime(RUNTIME_URL); // a promise: the model's files are fetched while it loads
    this.ort.catch(() => {}); // reported by useModel
    await this.useModel(0);
  }

  fail(text) {
    this.root.dataset.state = "error";
    this.overlayMessage(`The sketch pad cannot start: ${text}`);
    this.message(`The sketch pad cannot start: ${text}`, "error");
  }

  async useModel(index) {
    this.stop();
    await this.job;
    const entry = this.models[index];
    this.model = null;
    this.setBusy(true);
    this.root.dataset.state = "loading";
    this.overlayMessage(`Loading the model “${entry.label}”…`);
    this.message(`Loading the model “${entry.label}”…`);
    try {
      this.model = await WebModel.load(this.ort, new URL(`${entry.folder}/`, MODELS_URL),
        (what) => this.message(`Loading the model “${entry.label}”: ${what}…`));
    } catch (err) {
      this.fail(err.message);
      return;
    }
    const m = this.model.manifest;
    this.classSelect.textContent = "";
    m.class_names.forEach((name, i) => this.classSelect.append(el("option", { value: String(i), text: name })));
    this.classLabel.hidden = !m.conditional;
    this.overlayMessage("");
    this.setBusy(false);
    this.root.dataset.state = "ready";
    this.root.dataset.readyMs = String(performance.now());
    this.root.dataset.model = entry.folder;
    this.message(this.strokes.length ? "" : "Draw the start of a drawing; the model finishes it nine ways.");
    if (this.pointCount() >= FINISH_AFTER) this.restart();
  }

  stop() {
    this.generation += 1;
  }

  restartIfDrawn() {
    if (this.model && this.pointCount() >= FINISH_AFTER) this.restart();
  }

  restart() {
    if (!this.model || this.pointCount() < 1) return;
    this.stop();
    const gen = this.generation;
    this.job = this.job.then(() => this.endings(gen)).catch((err) => this.fail(err.message));
  }

  async endings(gen) {
    if (gen !== this.generation || !this.model) return;
    const model = this.model;
    const m = model.manifest;
    const n = ENDINGS;
    const tau = Number(this.temperature.value);
    const random = new Random(Number(this.seed.value) || 0);
    const label = m.conditional ? Number(this.classSelect.value) || 0 : 0;
    const canvasPerData = PAD / 256; // the pad spans QuickDraw's 256-pixel box (as chapter 9's pad)
    const rows = stroke3ToRows(padToStroke3(this.strokes, canvasPerData), model.scale);
    // z: the reader's drawing encoded (z = mu, the same for the nine endings, as sketchlib.sampling.complete);
    // a model without an exported encoder draws one z per ending from the prior N(0, I)
    let z = null;
    if (model.Z) {
      z = new Float32Array(n * model.Z);
      if (model.canEncode) {
        const mu = await model.encode(rows, label);
        for (let b = 0; b < n; b++) z.set(mu, b * model.Z);
      } else {
        for (let i = 0; i < z.length; i++) z[i] = random.normal();
      }
      if (gen !== this.generation) return;
    }
    const sampler = new Sampler(model, { n, z, label, temperature: tau });
    this.runs += 1;
    this.root.dataset.runs = String(this.runs);
    this.root.dataset.state = "running";
    this.message("The model is finishing your drawing…");
    await sampler.reset();
    await sampler.prime(rows);
    if (gen !== this.generation) return;
    this.cells.forEach((c) => this.redrawCell(c));
    const last = this.strokes[this.strokes.length - 1];
    const pos = Array.from({ length: n }, () => last[last.length - 1].slice());
    const penDown = new Uint8Array(n); // the reader's last point lifted the pen
    const toPad = model.scale * canvasPerData;
    let lastFrame = performance.now();
    let steps = 0;
    let stepMs = 0; // time in the model's steps (decoder and mixture draw), for the message below
    const maxSteps = Math.max(1, m.max_seq_len - sampler.points);
    for (let i = 0; i < maxSteps && !sampler.allEnded(); i++) {
      const noise = random.stepNoise(n, model.M);
      const t0 = performance.now();
      const pts = await sampler.step(noise);
      stepMs += performance.now() - t0;
      if (gen !== this.generation) return;
      steps += 1;
      for (let b = 0; b < n; b++) {
        if (pts[5 * b + 4] > 0.5) { penDown[b] = 2; continue; } // the drawing has ended (its offset is unused)
        const next = [pos[b][0] + pts[5 * b] * toPad, pos[b][1] + pts[5 * b + 1] * toPad];
        if (penDown[b] === 1) this.segment(pos[b], next, this.cells[b], MODEL_COLOR);
        pos[b] = next;
        penDown[b] = pts[5 * b + 2] > 0.5 ? 1 : 0; // p1: the pen stays down to the next point
      }
      if (performance.now() - lastFrame > 30) { // let the page paint the points drawn so far
        await nextFrame();
        lastFrame = performance.now();
        if (gen !== this.generation) return;
      }
    }
    this.root.dataset.state = "done";
    this.root.dataset.steps = String(steps);
    const perStep = steps ? ` (${steps} steps, ${(stepMs / steps).toFixed(2)} ms per step of all nine in this browser)` : "";
    this.message(`Nine endings at temperature ${tau.toFixed(2)}, seed ${this.seed.value}${perStep}: draw more, `
      + "or move the temperature or the seed for others.");
  }
}

function boot() {
  for (const root of document.querySelectorAll(".webpad[data-models]")) {
    if (root.webpad) continue;
    root.webpad = new WebPad(root);
    root.webpad.start();
  }
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
else boot();
