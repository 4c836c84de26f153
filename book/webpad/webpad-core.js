// The browser sketch pad's model side: no drawing, no page. An ES module, no build step.
//
// What it does is what sketchlib does in Python, line for line where it matters:
//   rdpIndices          sketchlib.strokes.rdp_indices (Ramer-Douglas-Peucker, distance to the infinite line)
//   padToStroke3        sketchlib.widgets.SketchPad.model_input (relative to the first point, in data pixels)
//   stroke3ToRows       sketchlib.sampling.IncrementalSampler.prime's stroke3_to_stroke5(normalize(d))[:-1]
//   drawPoints          sketchlib.sampling._draw_points (the Gumbel-max form of the mixture draw)
//   Sampler             sketchlib.sampling.IncrementalSampler (prime, then one point per step; ended rows stay ended)
//   WebModel.encode     sketchlib.sampling.encode (z = mu of the bidirectional encoder)
// The model itself is the ONNX export of sketchlib.export (step.onnx, init.onnx, encoder_*.onnx, manifest.json),
// run by onnxruntime-web's single-threaded WebAssembly build.

export const RDP_EPSILON = 2.0; // canvas pixels (sketchlib.widgets.RDP_EPSILON)
export const MIN_MOVE = 2.0; // canvas pixels: shorter moves are jitter (sketchlib.widgets.MIN_MOVE)
export const LOG_SIGMA_MIN = -5.0; // sketchlib.models.mdn (the export already clamps; kept for drawPoints' inputs)
export const LOG_SIGMA_MAX = 5.0;
export const START_TOKEN = [0, 0, 1, 0, 0];
const END_ROW = [0, 0, 0, 0, 1];

// ------------------------------------------------------------------ strokes

/** Indices of the points Ramer-Douglas-Peucker keeps in one polyline [[x, y], ...]. */
export function rdpIndices(points, epsilon = RDP_EPSILON) {
  const n = points.length;
  if (n < 3 || epsilon <= 0) return points.map((_, i) => i);
  const keep = new Uint8Array(n);
  keep[0] = keep[n - 1] = 1;
  const stack = [[0, n - 1]];
  while (stack.length) {
    const [i, j] = stack.pop();
    if (j <= i + 1) continue;
    const [ax, ay] = points[i];
    const [bx, by] = points[j];
    const abx = bx - ax, aby = by - ay;
    const norm = Math.hypot(abx, aby);
    let best = -1, bestDist = -Infinity;
    for (let m = i + 1; m < j; m++) {
      const [px, py] = points[m];
      const d = norm === 0 ? Math.hypot(px - ax, py - ay) : Math.abs(abx * (py - ay) - aby * (px - ax)) / norm;
      if (d > bestDist) { bestDist = d; best = m; }
    }
    if (bestDist > epsilon) {
      keep[best] = 1;
      stack.push([i, best], [best, j]);
    }
  }
  const out = [];
  for (let k = 0; k < n; k++) if (keep[k]) out.push(k);
  return out;
}

/** The points kept by the pad's jitter filter: a point closer than minMove to the last kept one is dropped
 *  (the page applies the same rule point by point while the pen moves). */
export function dropJitter(points, minMove = MIN_MOVE) {
  const out = points.length ? [points[0]] : [];
  for (const p of points.slice(1)) {
    const last = out[out.length - 1];
    if (Math.hypot(p[0] - last[0], p[1] - last[1]) >= minMove) out.push(p);
  }
  return out;
}

export function rdp(points, epsilon = RDP_EPSILON) {
  return rdpIndices(points, epsilon).map((i) => points[i]);
}

/** The reader's strokes (absolute canvas polylines) -> stroke-3 [[dx, dy, p], ...] relative to the first
 *  point, in data pixels (canvas pixels / canvasPerData), as SketchPad.model_input. */
export function padToStroke3(strokes, canvasPerData) {
  const lines = strokes.filter((s) => s.length);
  if (!lines.length) return [];
  const [fx, fy] = lines[0][0];
  const out = [];
  let px = 0, py = 0;
  for (const line of lines) {
    line.forEach(([x, y], k) => {
      const ax = (x - fx) / canvasPerData, ay = (y - fy) / canvasPerData;
      out.push([ax - px, ay - py, k === line.length - 1 ? 1 : 0]);
      px = ax; py = ay;
    });
  }
  return out;
}

/** Stroke-3 in data pixels -> the stroke-5 rows (model units) the decoder is primed with. */
export function stroke3ToRows(strokes3, scale) {
  return strokes3.map(([dx, dy, p]) => [Math.fround(dx) / scale, Math.fround(dy) / scale, 1 - p, p, 0]);
}

// ------------------------------------------------------------------ random numbers

/** A seeded generator (xoshiro128**, seeded by splitmix32): uniforms, Exp(1) and N(0, 1) draws. */
export class Random {
  constructor(seed) {
    let s = (Number(seed) >>> 0) || 0;
    const next = () => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s = [next(), next(), next(), next()];
    this.spare = null;
  }

  nextUint32() {
    const s = this.s;
    const r = Math.imul(((Math.imul(s[1], 5) << 7) | (Math.imul(s[1], 5) >>> 25)) >>> 0, 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t;
    s[3] = ((s[3] << 11) | (s[3] >>> 21)) >>> 0;
    s[0] >>>= 0; s[1] >>>= 0; s[2] >>>= 0;
    return r;
  }

  /** Uniform in (0, 1]. */
  uniform() {
    return (this.nextUint32() + 1) / 4294967296;
  }

  exponential() {
    return -Math.log(this.uniform());
  }

  normal() {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    const r = Math.sqrt(-2 * Math.log(this.uniform()));
    const a = 2 * Math.PI * this.uniform();
    this.spare = r * Math.sin(a);
    return r * Math.cos(a);
  }

  /** One step's noise for n drawings with M components, in sketchlib's order: clocks (n, M + 3), then e (n, 2). */
  stepNoise(n, M) {
    const clocks = new Float32Array(n * (M + 3));
    for (let i = 0; i < clocks.length; i++) clocks[i] = this.exponential();
    const e = new Float32Array(n * 2);
    for (let i = 0; i < e.length; i++) e[i] = this.normal();
    return { clocks, e };
  }
}

// ------------------------------------------------------------------ the mixture draw

/** The next point of each drawing (Float32Array n * 5, stroke-5, model units) from the step's outputs
 *  mixture (n, 6, M: log pi, mu_x, mu_y, log sigma_x, log sigma_y, rho) and pen logits (n, 3), at
 *  temperature tau with the given noise: component k and pen state are argmin_j log(E_j) - logit_j / tau
 *  (E_j ~ Exp(1): they are drawn with probability softmax(logit / tau)), the offset is
 *  mu_k + sqrt(tau) diag(sigma_k) L_k e with L_k the Cholesky factor of [[1, rho_k], [rho_k, 1]]. */
export function drawPoints(mixture, pen, n, M, temperature, noise) {
  const tau = Math.max(Number(temperature), 1e-6);
  const out = new Float32Array(n * 5);
  const { clocks, e } = noise;
  const C = M + 3;
  for (let b = 0; b < n; b++) {
    const base = b * 6 * M;
    let k = 0, best = Infinity;
    for (let j = 0; j < M; j++) {
      const v = Math.log(clocks[b * C + j]) - mixture[base + j] / tau;
      if (v < best) { best = v; k = j; }
    }
    let p = 0, bestPen = Infinity;
    for (let j = 0; j < 3; j++) {
      const v = Math.log(clocks[b * C + M + j]) - pen[b * 3 + j] / tau;
      if (v < bestPen) { bestPen = v; p = j; }
    }
    const muX = mixture[base + M + k], muY = mixture[base + 2 * M + k];
    const clamp = (x) => Math.min(Math.max(x, LOG_SIGMA_MIN), LOG_SIGMA_MAX);
    const sx = Math.exp(clamp(mixture[base + 3 * M + k])) * Math.sqrt(tau);
    const sy = Math.exp(clamp(mixture[base + 4 * M + k])) * Math.sqrt(tau);
    const rho = mixture[base + 5 * M + k];
    const e0 = e[2 * b], e1 = e[2 * b + 1];
    out[5 * b] = muX + sx * e0;
    out[5 * b + 1] = muY + sy * (rho * e0 + Math.sqrt(1 - rho * rho) * e1);
    out[5 * b + 2 + p] = 1;
  }
  return out;
}

// ------------------------------------------------------------------ loading

export class ChecksumError extends Error {}

async function sha256Hex(buffer) {
  if (!(globalThis.crypto && crypto.subtle)) {
    throw new ChecksumError("this page cannot check the model files' checksums: the browser offers "
      + "crypto.subtle only on https:// or localhost addresses; open the book there");
  }
  const digest = await crypto.subtle.digest("SHA-256", buffer);
  return Array.from(new Uint8Array(digest), (x) => x.toString(16).padStart(2, "0")).join("");
}

async function fetchOk(url, as) {
  let response;
  try {
    response = await fetch(url);
  } catch (err) {
    throw new Error(`could not fetch ${url} (${err.message})`);
  }
  if (!response.ok) throw new Error(`could not fetch ${url}: HTTP ${response.status}`);
  return as === "json" ? response.json() : response.arrayBuffer();
}

let runtimePromise = null;

export const NO_WASM = "this browser has no WebAssembly, which the sketch pad needs to run the model: open "
  + "the page in a current Chrome, Edge, Firefox or Safari (with WebAssembly allowed)";

export function hasWebAssembly() {
  return typeof WebAssembly === "object" && typeof WebAssembly.instantiate === "function";
}

/** Load onnxruntime-web's WASM build from `runtimeUrl` (a folder URL) once; single-threaded. */
export function loadRuntime(runtimeUrl) {
  if (!hasWebAssembly()) return Promise.reject(new Error(NO_WASM));
  if (!runtimePromise) {
    runtimePromise = new Promise((resolve, reject) => {
      if (globalThis.ort) { resolve(globalThis.ort); return; }
      const script = document.createElement("script");
      script.src = new URL("ort.wasm.min.js", runtimeUrl).href;
      script.onload = () => (globalThis.ort ? resolve(globalThis.ort)
        : reject(new Error(`${script.src} loaded but defined no 'ort'`)));
      script.onerror = () => reject(new Error(`could not load ${script.src}; the book's build fetches it `
        + "(scripts/fetch_webpad.sh)"));
      document.head.appendChild(script);
    }).then((ort) => {
      ort.env.wasm.numThreads = 1; // GitHub Pages sends no cross-origin-isolation headers: no threads
      ort.env.wasm.proxy = false;
      ort.env.wasm.wasmPaths = new URL("./", runtimeUrl).href;
      ort.env.logLevel = "error";
      return ort;
    });
    runtimePromise.catch(() => { runtimePromise = null; });
  }
  return runtimePromise;
}

/** An exported model: its manifest and onnxruntime sessions, files checked against the manifest's sha256. */
export class WebModel {
  /** `ort`: onnxruntime-web, or a promise of it (the files are fetched and checked while it loads). */
  static async load(ort, folderUrl, onProgress = () => {}) {
    const base = new URL("./", folderUrl).href;
    const manifestUrl = new URL("manifest.json", base).href;
    const manifest = await fetchOk(manifestUrl, "json");
    if (manifest.format !== "sketchlib-webpad-model") {
      throw new Error(`${manifestUrl} is not a sketch pad model manifest`);
    }
    const entries = Object.entries(manifest.files);
    const mb = entries.reduce((n, [, e]) => n + e.bytes, 0) / 1e6;
    onProgress(`fetching ${entries.map(([, e]) => e.file).join(" and ")} (${mb.toFixed(1)} MB)`);
    const checked = await Promise.all(entries.map(async ([key, entry]) => {
      const url = new URL(entry.file, base).href;
      const bytes = await fetchOk(url);
      const got = await sha256Hex(bytes);
      if (got !== entry.sha256) {
        throw new ChecksumError(`${url} failed its checksum: sha256 ${got.slice(0, 16)}... differs from the `
          + `manifest's ${entry.sha256.slice(0, 16)}...; the file is damaged or out of date (rebuild the book)`);
      }
      return [key, new Uint8Array(bytes)];
    }));
    const runtime = await ort;
    const sessions = {};
    for (const [key, bytes] of checked) {
      sessions[key] = await runtime.InferenceSession.create(bytes, {
        executionProviders: ["wasm"], graphOptimizationLevel: "all",
      });
    }
    return new WebModel(runtime, manifest, sessions, base);
  }

  constructor(ort, manifest, sessions, url) {
    this.ort = ort;
    this.manifest = manifest;
    this.sessions = sessions;
    this.url = url;
    this.H = manifest.dec_rnn_size;
    this.M = manifest.num_mixture;
    this.Z = manifest.latent_size;
    this.K = manifest.num_classes;
    this.conditional = manifest.conditional;
    this.scale = manifest.scale;
  }

  tensor(data, dims) {
    return new this.ort.Tensor("float32", data, dims);
  }

  /** h0, c0 (ort tensors, n x H) for latents z (Float32Array n * Z, or null for a model without one). */
  async initialState(z, n) {
    if (!this.Z) {
      return { h: this.tensor(new Float32Array(n * this.H), [n, this.H]),
        c: this.tensor(new Float32Array(n * this.H), [n, this.H]) };
    }
    const out = await this.sessions.init.run({ z: this.tensor(z, [n, this.Z]) });
    return { h: out.h0, c: out.c0 };
  }

  /** Whether the model can encode a drawing (an exported RNN encoder); else the page draws z from the prior. */
  get canEncode() {
    return Boolean(this.sessions.encoder_step && this.sessions.encoder_head);
  }

  /** z = mu of one drawing's stroke-5 rows (Float32Array Z), as sketchlib.sampling.encode: the bidirectional
   *  encoder reads the rows forwards and backwards from zero states, its last states (and the class one-hot)
   *  go through the head. */
  async encode(rows, label = 0) {
    const E = this.manifest.enc_rnn_size;
    const zeros = () => this.tensor(new Float32Array(E), [1, E]);
    let s = { h_fw_out: zeros(), c_fw_out: zeros(), h_bw_out: zeros(), c_bw_out: zeros() };
    const L = rows.length;
    for (let t = 0; t < L; t++) {
      s = await this.sessions.encoder_step.run({
        x_fw: this.tensor(Float32Array.from(rows[t]), [1, 5]), h_fw: s.h_fw_out, c_fw: s.c_fw_out,
        x_bw: this.tensor(Float32Array.from(rows[L - 1 - t]), [1, 5]), h_bw: s.h_bw_out, c_bw: s.c_bw_out,
      });
    }
    const feeds = { h_fw: s.h_fw_out, h_bw: s.h_bw_out };
    if (this.conditional) {
      const onehot = new Float32Array(this.K);
      onehot[label] = 1;
      feeds.onehot = this.tensor(onehot, [1, this.K]);
    }
    const out = await this.sessions.encoder_head.run(feeds);
    return Float32Array.from(out.mu.data);
  }

  /** One decoder step: feeds {prev, h, c, z?, onehot?} (ort tensors), returns the graph's outputs. */
  async step(feeds) {
    return this.sessions.step.run(feeds);
  }
}

/** n drawings decoded one point at a time: sketchlib.sampling.IncrementalSampler in the browser.
 *  z: Float32Array n * Z (the latents); label: class index for conditional models. */
export class Sampler {
  constructor(model, { n, z = null, label = 0, temperature = 0.25 }) {
    this.model = model;
    this.n = n;
    this.temperature = temperature;
    this.zTensor = model.Z ? model.tensor(z, [n, model.Z]) : null;
    this.z = z;
    if (model.conditional) {
      const onehot = new Float32Array(n * model.K);
      for (let b = 0; b < n; b++) onehot[b * model.K + label] = 1;
      this.onehot = model.tensor(onehot, [n, model.K]);
    }
    this.prev = new Float32Array(n * 5);
    for (let b = 0; b < n; b++) this.prev.set(START_TOKEN, 5 * b);
    this.ended = new Uint8Array(n);
    this.points = 0; // rows fed or drawn, primed ones included (IncrementalSampler.points)
  }

  async reset() {
    const s = await this.model.initialState(this.z, this.n);
    this.h = s.h;
    this.c = s.c;
  }

  async advance(prev) {
    const m = this.model;
    const feeds = { prev: m.tensor(prev, [this.n, 5]), h: this.h, c: this.c };
    if (this.zTensor) feeds.z = this.zTensor;
    if (this.onehot) feeds.onehot = this.onehot;
    const out = await m.step(feeds);
    this.h = out.h_out;
    this.c = out.c_out;
    return out;
  }

  /** Teacher-force the decoder through the stroke-5 rows (the same drawing for every row). */
  async prime(rows) {
    if (!rows.length) return;
    for (let t = 0; t < rows.length; t++) {
      const inp = t === 0 ? this.prev : tile(rows[t - 1], this.n);
      await this.advance(inp);
    }
    this.prev = tile(rows[rows.length - 1], this.n);
    this.points += rows.length;
  }

  /** One point for every drawing (Float32Array n * 5, model units); noise as Random.stepNoise. */
  async step(noise) {
    const out = await this.advance(this.prev);
    const rows = drawPoints(out.mixture.data, out.pen_logits.data, this.n, this.model.M, this.temperature, noise);
    for (let b = 0; b < this.n; b++) {
      if (this.ended[b]) rows.set(END_ROW, 5 * b);
      if (rows[5 * b + 4] > 0.5) this.ended[b] = 1;
    }
    this.prev = rows;
    this.points += 1;
    return rows;
  }

  allEnded() {
    return this.ended.every((x) => x);
  }
}

function tile(row, n) {
  const out = new Float32Array(n * 5);
  for (let b = 0; b < n; b++) out.set(row, 5 * b);
  return out;
}
