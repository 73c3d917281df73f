import { decodeJson, encodeJson } from '../runtime/json-codec.ts';

/**
 * What runtime/json-codec.ts costs per event against plain JSON, on this process's one thread: the
 * journal encodes every payload with encodeJson (JSON.stringify with a replacer) in append(), and
 * replay decodes every payload with decodeJson (JSON.parse, with a reviver only when the text holds
 * a `"$` tag). Blocks alternate; medians of `blocks`.
 */

export interface CodecCost {
  encode_json_ns: number;
  json_stringify_ns: number;
  decode_json_ns: number;
  json_parse_ns: number;
  ops: number;
}

/** `values` the payloads, `texts` the same payloads as the server returns them (payload::text). */
export function measureCodecCost(values: readonly unknown[], texts: readonly string[], opsPerBlock: number, blocks: number): CodecCost {
  let sink = 0;
  const time = (f: (i: number) => number): number => {
    const start = process.hrtime.bigint();
    for (let i = 0; i < opsPerBlock; i++) sink += f(i);
    return Number(process.hrtime.bigint() - start) / opsPerBlock;
  };
  const runs: Record<Exclude<keyof CodecCost, 'ops'>, number[]> = { encode_json_ns: [], json_stringify_ns: [], decode_json_ns: [], json_parse_ns: [] };
  const v = (i: number): unknown => values[i % values.length];
  const t = (i: number): string => texts[i % texts.length];
  // The result is used (its length or a property), so the work cannot be skipped.
  const parsed = (x: unknown): number => ((x as { id?: number }).id ?? 0) & 1;
  for (let b = 0; b < blocks; b++) {
    runs.encode_json_ns.push(time((i) => encodeJson(v(i)).length));
    runs.json_stringify_ns.push(time((i) => JSON.stringify(v(i)).length));
    runs.decode_json_ns.push(time((i) => parsed(decodeJson(t(i)))));
    runs.json_parse_ns.push(time((i) => parsed(JSON.parse(t(i)))));
  }
  if (sink < 0) console.log(sink);
  const m = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return {
    encode_json_ns: m(runs.encode_json_ns),
    json_stringify_ns: m(runs.json_stringify_ns),
    decode_json_ns: m(runs.decode_json_ns),
    json_parse_ns: m(runs.json_parse_ns),
    ops: opsPerBlock * blocks,
  };
}
