// The digits page: loads an ONNX model exported by `nnrun export` into onnxruntime-web and
// classifies 8x8 digits, drawn on the pad or picked from the test split.
//
// Files it expects beside it (build_site.py lays them out):
//   model.onnx    the exported model (another one with ?model=URL)
//   digits.json   {"labels": [...], "images": [[64 numbers in 0..1], ...]} (?digits=URL)
//   ort/          onnxruntime-web's ESM build and its .wasm (node_modules/onnxruntime-web/dist)
//
// `window.digitsDemo` exposes the state the end-to-end test reads (tests/export/test_web.py).

import * as ort from './ort/ort.wasm.min.mjs';
import { onnxMetadata } from './onnx_metadata.js';

const query = new URLSearchParams(location.search);
const MODEL_URL = query.get('model') ?? 'model.onnx';
const DIGITS_URL = query.get('digits') ?? 'digits.json';
const SIDE = 8; // the model's input is SIDE x SIDE pixels, flattened
const PIXELS = SIDE * SIDE;
const BITMAP = 32; // the digits data came from 32x32 bitmaps, 4x4 blocks counted into 0..16
const BLOCK = BITMAP / SIDE;

// A plain static server is not cross-origin isolated (no SharedArrayBuffer), so no threads;
// saying so avoids onnxruntime-web's warning. The .wasm lies beside this build in ort/.
ort.env.wasm.numThreads = 1;
ort.env.wasm.wasmPaths = new URL('./ort/', import.meta.url).href;

const $ = (id) => document.getElementById(id);
const demo = {
  status: 'loading',
  error: null,
  version: ort.env.versions?.web ?? '?',
  metadata: {},
  classNames: [],
  grid: [], // [{label, predicted, logits, probs}] for the test digits, in order
  last: null, // the latest classification shown: {source, input, logits, probs, predicted}
  classify, // (rows: number[][]) => Promise<[{logits, probs, predicted}]>
  idle: () => shown, // resolves once every classification asked for so far is shown
};
window.digitsDemo = demo;

let session;
let queue = Promise.resolve(); // onnxruntime-web runs one inference at a time per session

function jsonOr(text, fallback) {
  try {
    return JSON.parse(text);
  } catch {
    return fallback;
  }
}

// --- inference ------------------------------------------------------------------------------

function softmax(logits) {
  const top = Math.max(...logits);
  const e = logits.map((v) => Math.exp(v - top));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

function argmax(values) {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

async function classifyNow(rows) {
  const data = new Float32Array(rows.length * PIXELS);
  rows.forEach((row, i) => data.set(row, i * PIXELS));
  const input = new ort.Tensor('float32', data, [rows.length, PIXELS]);
  const outputs = await session.run({ [session.inputNames[0]]: input });
  const out = outputs[session.outputNames[0]];
  const classes = out.dims[1];
  const flat = Array.from(out.data);
  return rows.map((_, i) => {
    const logits = flat.slice(i * classes, (i + 1) * classes);
    return { logits, probs: softmax(logits), predicted: argmax(logits) };
  });
}

function classify(rows) {
  const result = queue.then(() => classifyNow(rows));
  queue = result.then(
    () => undefined,
    () => undefined,
  );
  return result;
}

// --- drawing -------------------------------------------------------------------------------

const pad = $('pad');
const padCtx = pad.getContext('2d', { willReadFrequently: true });
const bitmap = document.createElement('canvas');
bitmap.width = bitmap.height = BITMAP;
const bitmapCtx = bitmap.getContext('2d', { willReadFrequently: true });
let showing = 'empty'; // 'empty' | 'drawing' | 'test': a test digit is wiped by the next stroke
let drawings = 0;

function clearPad() {
  padCtx.fillStyle = '#000';
  padCtx.fillRect(0, 0, pad.width, pad.height);
  showing = 'empty';
}

// The drawing as the data has it: the ink's bounding box scaled to fit 32x32 (keeping its
// aspect), thresholded, then the lit pixels of each 4x4 block counted: 0..16, divided by 16.
function padToInput() {
  const { width, height } = pad;
  const ink = padCtx.getImageData(0, 0, width, height).data;
  let [x0, y0, x1, y1] = [width, height, -1, -1];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (ink[(y * width + x) * 4] > 64) {
        x0 = Math.min(x0, x);
        x1 = Math.max(x1, x);
        y0 = Math.min(y0, y);
        y1 = Math.max(y1, y);
      }
    }
  }
  if (x1 < 0) return null;
  const [w, h] = [x1 - x0 + 1, y1 - y0 + 1];
  const scale = BITMAP / Math.max(w, h);
  bitmapCtx.fillStyle = '#000';
  bitmapCtx.fillRect(0, 0, BITMAP, BITMAP);
  bitmapCtx.imageSmoothingEnabled = true;
  bitmapCtx.imageSmoothingQuality = 'high';
  const [dw, dh] = [w * scale, h * scale];
  bitmapCtx.drawImage(pad, x0, y0, w, h, (BITMAP - dw) / 2, (BITMAP - dh) / 2, dw, dh);
  const bits = bitmapCtx.getImageData(0, 0, BITMAP, BITMAP).data;
  const input = new Array(PIXELS).fill(0);
  for (let y = 0; y < BITMAP; y++) {
    for (let x = 0; x < BITMAP; x++) {
      if (bits[(y * BITMAP + x) * 4] >= 128) {
        input[Math.floor(y / BLOCK) * SIDE + Math.floor(x / BLOCK)] += 1;
      }
    }
  }
  return input.map((count) => count / (BLOCK * BLOCK));
}

function paintDigit(canvas, input) {
  const ctx = canvas.getContext('2d');
  const cell = canvas.width / SIDE;
  for (let i = 0; i < PIXELS; i++) {
    const v = Math.round(255 * Math.min(1, Math.max(0, input[i])));
    ctx.fillStyle = `rgb(${v},${v},${v})`;
    ctx.fillRect((i % SIDE) * cell, Math.floor(i / SIDE) * cell, cell, cell);
  }
}

function padPoint(event) {
  const box = pad.getBoundingClientRect();
  return [
    ((event.clientX - box.left) * pad.width) / box.width,
    ((event.clientY - box.top) * pad.height) / box.height,
  ];
}

let last = null;
let frame = 0; // a live classification waiting for the next animation frame

function startStroke(event) {
  if (showing !== 'drawing') clearPad();
  for (const b of document.querySelectorAll('.thumb.picked')) b.classList.remove('picked');
  showing = 'drawing';
  pad.setPointerCapture(event.pointerId);
  last = padPoint(event);
  stroke(event);
}

function drawTo(event) {
  const point = padPoint(event);
  padCtx.strokeStyle = '#fff';
  padCtx.lineWidth = pad.width / 11;
  padCtx.lineCap = padCtx.lineJoin = 'round';
  padCtx.beginPath();
  padCtx.moveTo(...last);
  padCtx.lineTo(...point);
  padCtx.stroke();
  last = point;
}

function stroke(event) {
  if (!last) return;
  drawTo(event);
  frame ||= requestAnimationFrame(() => {
    frame = 0;
    showDrawing();
  });
}

function endStroke(event) {
  if (!last) return;
  drawTo(event);
  last = null;
  cancelAnimationFrame(frame);
  frame = 0;
  showDrawing();
}

function showDrawing() {
  const input = padToInput();
  if (input) show(`drawing-${++drawings}`, input);
}

// --- showing results --------------------------------------------------------------------------

let shown = Promise.resolve(); // settles once every show() begun so far has updated the page

function show(source, input) {
  const done = showNow(source, input);
  shown = shown.then(() => done).catch(() => undefined);
  return done;
}

async function showNow(source, input) {
  $('result').dataset.for = source;
  const [result] = await classify([input]);
  demo.last = { source, input, ...result };
  paintDigit($('seen'), input);
  const name = demo.classNames[result.predicted] ?? String(result.predicted);
  $('predicted').textContent = name;
  $('confidence').textContent = `${(100 * result.probs[result.predicted]).toFixed(1)}% sure`;
  const bars = $('bars').children;
  result.probs.forEach((p, i) => {
    bars[i].classList.toggle('top', i === result.predicted);
    bars[i].querySelector('.fill').style.width = `${(100 * p).toFixed(1)}%`;
    bars[i].querySelector('.value').textContent = `${(100 * p).toFixed(1)}%`;
  });
  $('result').dataset.shown = source;
}

function buildBars(names) {
  const list = $('bars');
  list.replaceChildren(
    ...names.map((name) => {
      const li = document.createElement('li');
      li.innerHTML = '<span class="name"></span><span class="track"><span class="fill"></span></span><span class="value">0%</span>';
      li.querySelector('.name').textContent = name;
      return li;
    }),
  );
}

async function buildGrid(digits) {
  const grid = $('grid');
  const results = digits.images.length ? await classify(digits.images) : [];
  let right = 0;
  grid.replaceChildren(
    ...digits.images.map((image, i) => {
      const label = digits.labels[i];
      const { predicted } = results[i];
      right += predicted === label;
      const button = document.createElement('button');
      button.type = 'button';
      button.className = predicted === label ? 'thumb' : 'thumb wrong';
      button.dataset.index = i;
      button.title = `label ${demo.classNames[label] ?? label}, predicted ${demo.classNames[predicted] ?? predicted}`;
      const canvas = document.createElement('canvas');
      canvas.width = canvas.height = SIDE;
      paintDigit(canvas, image);
      const caption = document.createElement('span');
      const name = (k) => demo.classNames[k] ?? String(k);
      caption.textContent = predicted === label ? name(predicted) : `${name(predicted)} (is ${name(label)})`;
      button.append(canvas, caption);
      button.addEventListener('click', () => {
        clearPad();
        paintDigit(pad, image);
        showing = 'test';
        for (const b of grid.querySelectorAll('.picked')) b.classList.remove('picked');
        button.classList.add('picked');
        show(`test-${i}`, image);
      });
      return button;
    }),
  );
  demo.grid = results.map((r, i) => ({ label: digits.labels[i], ...r }));
  if (results.length) $('score').textContent = `· ${right} of ${results.length} right`;
}

// --- start ---------------------------------------------------------------------------------

async function main() {
  const started = performance.now();
  clearPad();
  const response = await fetch(MODEL_URL);
  if (!response.ok) throw new Error(`${MODEL_URL}: HTTP ${response.status}`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  demo.metadata = onnxMetadata(bytes);
  session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
  const [probe] = await classify([new Array(PIXELS).fill(0)]);
  const fallback = probe.logits.map((_, i) => String(i));
  const names = jsonOr(demo.metadata.class_names ?? '', null);
  demo.classNames = Array.isArray(names) && names.length === fallback.length ? names.map(String) : fallback;
  buildBars(demo.classNames);
  const digits = await fetch(DIGITS_URL).then((r) => (r.ok ? r.json() : { labels: [], images: [] }));
  await buildGrid(digits);

  pad.addEventListener('pointerdown', startStroke);
  pad.addEventListener('pointermove', stroke);
  pad.addEventListener('pointerup', endStroke);
  pad.addEventListener('pointercancel', endStroke);
  $('clear').addEventListener('click', () => {
    clearPad();
    paintDigit($('seen'), new Array(PIXELS).fill(0));
  });
  paintDigit($('seen'), new Array(PIXELS).fill(0));

  const model = demo.metadata.model ?? 'model';
  const inputs = jsonOr(demo.metadata.inputs ?? '', {});
  const signature = Object.entries(inputs)
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ');
  const ms = Math.round(performance.now() - started);
  $('status').textContent =
    `${model}(${signature || session.inputNames.join(', ')}) · ${(bytes.length / 1024).toFixed(0)} KiB ONNX · ` +
    `onnxruntime-web ${demo.version} (wasm) · ready in ${ms} ms`;
  $('status').dataset.state = 'ready';
  demo.status = 'ready';
}

main().catch((err) => {
  console.error(err);
  demo.status = 'error';
  demo.error = String(err?.message ?? err);
  $('status').textContent = `could not start: ${demo.error}`;
  $('status').dataset.state = 'error';
});
