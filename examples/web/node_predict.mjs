// The exported model in Node through onnxruntime-node: no Python, no nndsl.
//
//   node node_predict.mjs MODEL.onnx INPUTS.npy|INPUTS.json
//
// INPUTS is a 2-D float32/float64 .npy array (one row per example), or JSON: a list of rows or
// {"images": [...rows]} (the page's digits.json works). Prints one JSON object:
// {"input": name, "output": name, "class_names": [...]|null, "predictions": [class index per
// row], "logits": [[...], ...]}.

import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { onnxMetadata } from './onnx_metadata.js';

// A .npy file: magic, version, header length, a Python-dict header, then the raw data.
function readNpy(path) {
  const buf = readFileSync(path);
  if (buf.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error(`${path}: not a .npy file`);
  const major = buf[6];
  const headerLength = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = (major === 1 ? 10 : 12) + headerLength;
  const header = buf.toString('latin1', major === 1 ? 10 : 12, start);
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*True/.test(header);
  const shape = /'shape':\s*\(([^)]*)\)/
    .exec(header)[1]
    .split(',')
    .filter((s) => s.trim())
    .map(Number);
  if (fortran) throw new Error(`${path}: Fortran-ordered arrays are not supported`);
  const bytes = buf.buffer.slice(buf.byteOffset + start, buf.byteOffset + buf.length);
  let data;
  if (descr === '<f4') data = new Float32Array(bytes);
  else if (descr === '<f8') data = Float32Array.from(new Float64Array(bytes));
  else throw new Error(`${path}: dtype ${descr} is not supported (float32 or float64)`);
  const rows = shape[0];
  const cols = shape.slice(1).reduce((a, b) => a * b, 1);
  return { data, dims: [rows, cols] };
}

function readJson(path) {
  const parsed = JSON.parse(readFileSync(path, 'utf8'));
  const rows = Array.isArray(parsed) ? parsed : parsed.images;
  if (!Array.isArray(rows) || !rows.every(Array.isArray)) {
    throw new Error(`${path}: expected a list of rows or {"images": [rows]}`);
  }
  const cols = rows.length ? rows[0].length : 0;
  return { data: Float32Array.from(rows.flat()), dims: [rows.length, cols] };
}

const [modelPath, inputPath] = process.argv.slice(2);
if (!modelPath || !inputPath) {
  console.error('usage: node node_predict.mjs MODEL.onnx INPUTS.npy|INPUTS.json');
  process.exit(2);
}

const { data, dims } = inputPath.endsWith('.npy') ? readNpy(inputPath) : readJson(inputPath);
const model = readFileSync(modelPath);
const metadata = onnxMetadata(model);
const session = await ort.InferenceSession.create(model, { executionProviders: ['cpu'] });
const [input] = session.inputNames;
const [output] = session.outputNames;
const outputs = await session.run({ [input]: new ort.Tensor('float32', data, dims) });
const y = outputs[output];
const classes = y.dims[1];
const flat = Array.from(y.data);
const logits = [];
const predictions = [];
for (let i = 0; i < dims[0]; i++) {
  const row = flat.slice(i * classes, (i + 1) * classes);
  logits.push(row);
  predictions.push(row.indexOf(Math.max(...row)));
}
console.log(
  JSON.stringify({
    input,
    output,
    class_names: metadata.class_names ? JSON.parse(metadata.class_names) : null,
    predictions,
    logits,
  }),
);
