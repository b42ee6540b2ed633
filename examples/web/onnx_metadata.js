// An ONNX model's metadata_props ({key: value}), read from the protobuf bytes: neither
// onnxruntime-web nor onnxruntime-node (1.30) exposes them. ModelProto's field 14 holds
// StringStringEntryProto {key = 1, value = 2}; every other field is skipped by its length.
// Shared by the page (app.js) and node_predict.mjs.

function varint(bytes, pos) {
  let value = 0;
  let scale = 1;
  let b;
  do {
    b = bytes[pos++];
    value += (b & 0x7f) * scale;
    scale *= 128;
  } while (b & 0x80);
  return [value, pos];
}

function* fields(bytes) {
  let pos = 0;
  while (pos < bytes.length) {
    let key;
    [key, pos] = varint(bytes, pos);
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (wire === 0) {
      [, pos] = varint(bytes, pos);
    } else if (wire === 1) {
      pos += 8;
    } else if (wire === 5) {
      pos += 4;
    } else if (wire === 2) {
      let length;
      [length, pos] = varint(bytes, pos);
      yield [field, bytes.subarray(pos, pos + length)];
      pos += length;
    } else {
      throw new Error(`not an ONNX model (protobuf wire type ${wire})`);
    }
  }
}

export function onnxMetadata(bytes) {
  const text = new TextDecoder();
  const props = {};
  for (const [field, entry] of fields(bytes)) {
    if (field !== 14) continue;
    let key = '';
    let value = '';
    for (const [f, data] of fields(entry)) {
      if (f === 1) key = text.decode(data);
      if (f === 2) value = text.decode(data);
    }
    props[key] = value;
  }
  return props;
}
