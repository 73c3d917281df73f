// `rt decode`: one frame (runtime/codec.ts) on stdin, as JSON on stdout. For
// `nats sub 'rt.demo.mail.>' --translate 'rt decode'`, which hands each message's body to the
// command. Exit codes: 0 decoded, 1 not a frame (what was wrong on stderr).
import { CodecError, decodeFrame } from '../codec.ts';
import { encodeJson } from '../json-codec.ts';

export async function decodeCommand(): Promise<number> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  const buf = Buffer.concat(chunks);
  try {
    const f = decodeFrame(buf);
    const out = {
      node: f.node,
      incarnation: f.incarnation,
      epoch: f.epoch,
      sent: new Date(f.ts).toISOString(),
      envelopes: f.envelopes.map((e) => ({ to: e.to, from: e.from, type: e.type, seq: e.seq, ...(e.traceparent ? { traceparent: e.traceparent } : {}), body: e.body })),
    };
    process.stdout.write(`${encodeJson(out)}\n`);
    return 0;
  } catch (e) {
    process.stderr.write(`rt decode: ${e instanceof CodecError ? e.message : String(e)}\n`);
    return 1;
  }
}
