// A synchronous run of an onnxruntime-node session, for the signal's hot path.
//
// onnxruntime-node's public InferenceSession.run() is async only: it defers every call by a
// setImmediate and wraps the result in a promise, which on this machine doubles a small model's
// latency (p50 ~23 us against ~13 us for the native call; see bench/onnx-infer.ts). The package's
// own native binding runs synchronously. It is not public API, so it is used only when it is there
// and behaves as expected at load; otherwise the caller keeps the async path. The lock file pins
// the version this was checked against (1.30).
import { createRequire } from 'node:module';
import type { InferenceSession, Tensor } from 'onnxruntime-node';

interface NativeSession {
  loadModel(buffer: ArrayBufferLike, byteOffset: number, byteLength: number, options: InferenceSession.SessionOptions): void;
  run(feeds: Record<string, Tensor>, fetches: Record<string, Tensor>, options: object): Record<string, unknown>;
  dispose(): void;
}

interface NativeBinding {
  binding: { InferenceSession: new () => NativeSession };
  initOrt: () => void;
}

export interface SyncSession {
  /** Runs the model writing into the preallocated `fetches` tensors. */
  run(feeds: Record<string, Tensor>, fetches: Record<string, Tensor>): void;
  dispose(): void;
}

/** A synchronous session on the same model bytes and options, or undefined (with why) when the binding is not usable. */
export function openSyncSession(bytes: Uint8Array, options: InferenceSession.SessionOptions): { session?: SyncSession; unavailable?: string } {
  let native: NativeBinding;
  try {
    native = createRequire(import.meta.url)('onnxruntime-node/dist/binding') as NativeBinding;
  } catch (e) {
    return { unavailable: `onnxruntime-node/dist/binding cannot be loaded: ${(e as Error).message}` };
  }
  if (typeof native?.initOrt !== 'function' || typeof native?.binding?.InferenceSession !== 'function') {
    return { unavailable: 'onnxruntime-node/dist/binding has no InferenceSession (another onnxruntime-node version?)' };
  }
  try {
    native.initOrt();
    const s = new native.binding.InferenceSession();
    s.loadModel(bytes.buffer, bytes.byteOffset, bytes.byteLength, options);
    return {
      session: {
        run: (feeds, fetches) => void s.run(feeds, fetches, {}),
        dispose: () => s.dispose(),
      },
    };
  } catch (e) {
    return { unavailable: `native session failed to load the model: ${(e as Error).message}` };
  }
}
