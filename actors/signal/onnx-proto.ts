// The ONNX protobuf schema (the subset in onnx.proto), loaded once at runtime with protobufjs.
// Both the exporter (encode) and the model loader (decode metadata) go through it. Field names
// keep the schema's snake_case (keepCase), so objects read like the official schema.
import protobuf from 'protobufjs';
import { fileURLToPath } from 'node:url';

const PROTO_FILE = fileURLToPath(new URL('./onnx.proto', import.meta.url));

/** TensorProto.DataType.FLOAT */
export const ONNX_FLOAT = 1;

let modelProto: protobuf.Type | undefined;

/** The `onnx.ModelProto` message type. */
export function modelProtoType(): protobuf.Type {
  modelProto ??= new protobuf.Root().loadSync(PROTO_FILE, { keepCase: true }).lookupType('onnx.ModelProto');
  return modelProto;
}

/** Encodes a plain ModelProto object (field names as in onnx.proto); invalid input throws naming the field. */
export function encodeModel(model: Record<string, unknown>): Uint8Array {
  const type = modelProtoType();
  const problem = type.verify(model);
  if (problem) throw new TypeError(`onnx ModelProto: ${problem}`);
  return type.encode(type.fromObject(model)).finish();
}

/** Decodes an ONNX file's bytes to a plain object: int64 as numbers, bytes as Uint8Array. */
export function decodeModel(bytes: Uint8Array): Record<string, unknown> {
  const type = modelProtoType();
  return type.toObject(type.decode(bytes), { longs: Number, defaults: false, arrays: true });
}
