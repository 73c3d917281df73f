import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import {
  pingPongScript,
  runPingPong,
  type EchoCounter,
  type PingPongOptions,
  type PingPongResult,
  type PingPongRoleConfig,
  type RoundTripRun,
} from './pingpong.ts';

/**
 * The floor for Node: bare `net` over a Unix-domain socket, 4-byte little-endian length prefix, one
 * write per message. Run alone: `node --import tsx bench/raw/uds-pingpong.ts`.
 */

const HEADER_BYTES = 4;
/** A ping-pong frame is tiny; anything this large means the stream lost its framing. */
const FRAME_BYTES_MAX = 1 << 20;

export function measureUdsPingPong(options: Partial<PingPongOptions> = {}): Promise<PingPongResult> {
  return runPingPong(new URL(import.meta.url), options);
}

/** Splits a byte stream into whole frames (header included), copying only when a frame spans chunks. */
class FrameReader {
  #pending: Buffer | undefined;

  push(chunk: Buffer, onFrame: (frame: Buffer) => void): void {
    let buffer = this.#pending ? Buffer.concat([this.#pending, chunk]) : chunk;
    this.#pending = undefined;
    while (buffer.length >= HEADER_BYTES) {
      const length = buffer.readUInt32LE(0);
      if (length > FRAME_BYTES_MAX) throw new Error(`frame of ${length} bytes exceeds ${FRAME_BYTES_MAX}: stream out of sync`);
      const end = HEADER_BYTES + length;
      if (buffer.length < end) break;
      onFrame(buffer.subarray(0, end));
      buffer = buffer.subarray(end);
    }
    if (buffer.length > 0) this.#pending = Buffer.from(buffer);
  }
}

function echo(config: PingPongRoleConfig, counter: EchoCounter): Promise<void> {
  return new Promise((_resolve, reject) => {
    const server = createServer((socket: Socket) => {
      const reader = new FrameReader();
      socket.on('data', (chunk: Buffer) => {
        reader.push(chunk, (frame) => {
          counter.onMessage();
          socket.write(frame);
        });
      });
      // The client closing after its last round trip is the normal end, not an error.
      socket.on('error', () => socket.destroy());
    });
    server.on('error', reject);
    server.listen(config.path, () => counter.ready());
  });
}

async function client(config: PingPongRoleConfig, run: RoundTripRun): Promise<void> {
  const socket = connect(config.path);
  await once(socket, 'connect');
  await run.ready();
  const frame = Buffer.alloc(HEADER_BYTES + config.payload_bytes, 0x5a);
  frame.writeUInt32LE(config.payload_bytes, 0);
  const reader = new FrameReader();
  await new Promise<void>((resolve, reject) => {
    socket.on('error', reject);
    socket.on('close', () => reject(new Error('echo closed the socket mid-run')));
    socket.on('data', (chunk: Buffer) => {
      try {
        reader.push(chunk, (reply) => {
          if (reply.length !== frame.length) throw new Error(`reply of ${reply.length} bytes, sent ${frame.length}`);
          if (run.next()) {
            socket.write(frame);
            return;
          }
          socket.removeAllListeners('close');
          socket.end();
          resolve();
        });
      } catch (error) {
        reject(error);
      }
    });
    run.next();
    socket.write(frame);
  });
}

await pingPongScript(import.meta.url, { echo, client }, 'uds raw (client core 0, echo core 1)');
