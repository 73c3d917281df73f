// Recorded market data as a source for the replay server: one or more recorded files (one symbol
// each, see ../shared/data/README.md) merged by receive time. Streaming: each file is read line by
// line and the merge holds one pending event per file, so memory does not grow with file size.
//
// Each file is read ahead only until its REST snapshot line and its first depth diff, which give
// the symbol (from the stream names, not the file name), the market (futures diffs carry `pu`),
// the depth stream name and the price/qty decimals. The server checks what it needs to keep its
// book right (the envelope, the stream, the symbol, every depth diff); trade and bookTicker
// payloads are relayed as recorded, so a damaged one reaches clients the way a live one would.
import { access, constants } from 'node:fs/promises';
import { FeedFormatError, parseDepthSnapshot, parseStreamMessage, parseStreamName } from './binance-format.ts';
import { decimalsOf } from './exchange-book.ts';
import type { DepthDiff, DepthSnapshot, Market } from './market-data.ts';
import type { BookPrecision, FeedEvent, MarketSource, SourceSymbol } from './market-source.ts';
import { isSnapshotLine, readRecorded, RecordedFileError, type RecordedLine } from './recorded-file.ts';

/** How far into a file to look for its REST snapshot and first depth diff before giving up. */
export const HEAD_LINES_MAX = 10_000;

export interface ReplaySourceOptions {
  /** Withhold one depth diff every N per symbol (0, the default: never), to exercise client resync. */
  gapEvery?: number;
  /** default HEAD_LINES_MAX */
  headLinesMax?: number;
}

export class ReplaySource implements MarketSource {
  readonly kind = 'replay';
  readonly finite = true;
  readonly description: string;
  readonly symbols: readonly SourceSymbol[];
  private started = false;

  private constructor(private readonly files: readonly RecordedStream[]) {
    this.symbols = files.map((f) => f.info);
    this.description = `replay of ${files.map((f) => `${f.file} (${f.info.symbol} ${f.info.market})`).join(', ')}`;
  }

  /** Opens the files and reads each one's head. Throws RecordedFileError naming file:line. */
  static async open(files: readonly string[], options: ReplaySourceOptions = {}): Promise<ReplaySource> {
    if (files.length === 0) throw new RangeError('no files: expected at least one recorded file');
    const gapEvery = options.gapEvery ?? 0;
    if (!Number.isSafeInteger(gapEvery) || gapEvery < 0) throw new RangeError(`gapEvery = ${gapEvery}: expected an integer >= 0`);
    const headLinesMax = options.headLinesMax ?? HEAD_LINES_MAX;
    const opened = await Promise.allSettled(files.map((f) => RecordedStream.open(f, gapEvery, headLinesMax)));
    const streams: RecordedStream[] = [];
    let failure: unknown;
    for (const o of opened) {
      if (o.status === 'fulfilled') streams.push(o.value);
      else failure ??= o.reason;
    }
    if (failure === undefined) {
      const bySymbol = new Map<string, RecordedStream>();
      for (const s of streams) {
        const other = bySymbol.get(s.info.symbol);
        if (other) {
          failure = new RecordedFileError(s.file, s.firstStreamLine, `symbol ${s.info.symbol} is already replayed from ${other.file}: expected one file per symbol`);
          break;
        }
        bySymbol.set(s.info.symbol, s);
      }
    }
    if (failure !== undefined) {
      await Promise.all(streams.map((s) => s.close()));
      throw failure;
    }
    return new ReplaySource(streams);
  }

  /** k-way merge by receive time; ties go to the file named first, so the order is deterministic. */
  async *events(): AsyncGenerator<FeedEvent> {
    if (this.started) throw new Error('ReplaySource.events() is single use: open the files again to replay again');
    this.started = true;
    try {
      const heads = await Promise.all(this.files.map((f) => f.next()));
      for (;;) {
        let best = -1;
        for (let i = 0; i < heads.length; i++) {
          const h = heads[i];
          if (h !== undefined && (best < 0 || h.recvNs < (heads[best] as FeedEvent).recvNs)) best = i;
        }
        if (best < 0) return;
        yield heads[best] as FeedEvent;
        heads[best] = await this.files[best].next();
      }
    } finally {
      await this.close();
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.files.map((f) => f.close()));
  }
}

const ENVELOPE_PREFIX = '{"stream":"';

/** One recorded file of one symbol, as FeedEvents. */
class RecordedStream {
  private headAt = 0;
  private depthDiffs = 0;
  private lastLine = 0;

  private constructor(
    readonly file: string,
    private readonly lines: AsyncGenerator<RecordedLine>,
    private head: RecordedLine[],
    readonly info: SourceSymbol,
    readonly firstStreamLine: number,
    private readonly gapEvery: number,
  ) {}

  static async open(file: string, gapEvery: number, headLinesMax: number): Promise<RecordedStream> {
    try {
      await access(file, constants.R_OK);
    } catch (e) {
      // Checked up front: a read error inside the gunzip pipe would not reach the line reader.
      throw new RecordedFileError(file, 0, `cannot read the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): expected a readable recorded .gz file`);
    }
    const lines = readRecorded(file);
    try {
      return await RecordedStream.readHead(file, lines, gapEvery, headLinesMax);
    } catch (e) {
      await lines.return(undefined);
      throw e;
    }
  }

  private static async readHead(file: string, lines: AsyncGenerator<RecordedLine>, gapEvery: number, headLinesMax: number): Promise<RecordedStream> {
    const head: RecordedLine[] = [];
    let symbol: string | undefined;
    let firstStreamLine = 0;
    let snapshotLine: RecordedLine | undefined;
    let depth: { line: RecordedLine; stream: string } | undefined;
    let lastLine = 0;
    while (snapshotLine === undefined || depth === undefined) {
      const r = await readLine(file, lines, lastLine);
      if (r === undefined) break;
      lastLine = r.line;
      if (head.length === headLinesMax) {
        throw new RecordedFileError(file, r.line, `no ${snapshotLine ? 'depth diff' : 'REST depth snapshot ({"lastUpdateId":...})'} in the first ${headLinesMax} lines: expected one near the start, the depth endpoint needs it`);
      }
      head.push(r);
      if (isSnapshotLine(r.json)) {
        snapshotLine ??= r;
        continue;
      }
      const stream = streamOf(file, r);
      const name = parseStreamName(stream);
      if (!name) throw new RecordedFileError(file, r.line, unknownStream(stream));
      if (symbol === undefined) {
        symbol = name.symbol;
        firstStreamLine = r.line;
      } else if (name.symbol !== symbol) throw new RecordedFileError(file, r.line, wrongSymbol(stream, symbol));
      if (name.kind === 'depth') depth ??= { line: r, stream };
    }
    if (snapshotLine === undefined) throw new RecordedFileError(file, lastLine, 'no REST depth snapshot line ({"lastUpdateId":...}) in the file: expected one, the depth endpoint needs it');
    if (symbol === undefined || depth === undefined) throw new RecordedFileError(file, lastLine, 'no depth stream in the file: expected <symbol>@depth... diffs');

    const [sym, snap, first] = [symbol, snapshotLine, depth];
    const snapshot = asRecorded(file, snap, () => parseDepthSnapshot(sym, snap.json));
    const diff = asRecorded(file, first.line, () => parseStreamMessage(first.line.json, 0));
    if (diff.type !== 'depth') throw new RecordedFileError(file, first.line.line, `stream ${first.stream}: expected a depthUpdate`);
    const market: Market = diff.pu === -1 ? 'spot' : 'usdm';
    const lower = sym.toLowerCase();
    const info: SourceSymbol = {
      symbol: sym,
      market,
      streams: [first.stream, `${lower}@trade`, `${lower}@bookTicker`],
      precision: precisionOf(snap.json, first.line.json),
      snapshot,
      snapshotEventMs: snapshotEventMs(snap.json),
    };
    const s = new RecordedStream(file, lines, head, info, firstStreamLine, gapEvery);
    s.lastLine = lastLine;
    return s;
  }

  /** The next event of this file, or undefined at its end. Throws RecordedFileError. */
  async next(): Promise<FeedEvent | undefined> {
    let l: RecordedLine | undefined;
    if (this.headAt < this.head.length) {
      l = this.head[this.headAt++];
      if (this.headAt === this.head.length) this.head = [];
    } else {
      l = await readLine(this.file, this.lines, this.lastLine);
      if (l === undefined) return undefined;
      this.lastLine = l.line;
    }
    return this.toEvent(l);
  }

  async close(): Promise<void> {
    await this.lines.return(undefined);
  }

  private toEvent(l: RecordedLine): FeedEvent {
    const { symbol } = this.info;
    if (isSnapshotLine(l.json)) {
      const snapshot: DepthSnapshot = asRecorded(this.file, l, () => parseDepthSnapshot(symbol, l.json));
      return { kind: 'snapshot', recvNs: l.recvNs, symbol, json: l.json, snapshot, eventMs: snapshotEventMs(l.json) };
    }
    const stream = streamOf(this.file, l);
    const name = parseStreamName(stream);
    if (!name) throw new RecordedFileError(this.file, l.line, unknownStream(stream));
    if (name.symbol !== symbol) throw new RecordedFileError(this.file, l.line, wrongSymbol(stream, symbol));
    if (name.kind !== 'depth') return { kind: name.kind, recvNs: l.recvNs, symbol, stream, json: l.json };
    const diff = asRecorded(this.file, l, () => parseStreamMessage(l.json, Number(l.recvNs) / 1e6));
    if (diff.type !== 'depth') throw new RecordedFileError(this.file, l.line, `stream ${stream}: expected a depthUpdate`);
    this.depthDiffs++;
    const withheld = this.gapEvery > 0 && this.depthDiffs % this.gapEvery === 0;
    return { kind: 'depth', recvNs: l.recvNs, symbol, stream, json: l.json, diff: diff as DepthDiff, withheld };
  }
}

async function readLine(file: string, lines: AsyncGenerator<RecordedLine>, lastLine: number): Promise<RecordedLine | undefined> {
  try {
    const r = await lines.next();
    return r.done ? undefined : r.value;
  } catch (e) {
    if (e instanceof RecordedFileError) throw e;
    // gzip or I/O errors: name where the file stopped making sense.
    throw new RecordedFileError(file, lastLine + 1, `cannot read (${(e as Error).message}): expected gzip text lines "<receive time ns> <JSON>"`);
  }
}

/** The stream name of a combined-stream envelope, without parsing the whole line when it has the usual shape. */
function streamOf(file: string, l: RecordedLine): string {
  const json = l.json;
  if (json.startsWith(ENVELOPE_PREFIX)) {
    const end = json.indexOf('"', ENVELOPE_PREFIX.length);
    if (end > ENVELOPE_PREFIX.length) return json.slice(ENVELOPE_PREFIX.length, end);
  }
  let m: unknown;
  try {
    m = JSON.parse(json);
  } catch (e) {
    throw new RecordedFileError(file, l.line, `not JSON (${(e as Error).message}): expected a combined-stream envelope or a REST depth snapshot`);
  }
  if (typeof m !== 'object' || m === null || typeof (m as { stream?: unknown }).stream !== 'string') {
    throw new RecordedFileError(file, l.line, `expected a combined-stream envelope {"stream":...,"data":...} or a REST depth snapshot {"lastUpdateId":...}, got ${json.slice(0, 80)}`);
  }
  return (m as { stream: string }).stream;
}

function asRecorded<T>(file: string, l: RecordedLine, parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    if (e instanceof FeedFormatError) throw new RecordedFileError(file, l.line, e.message);
    throw e;
  }
}

const unknownStream = (stream: string): string =>
  `unknown stream "${stream}": expected <symbol>@depth[@100ms|@0ms], <symbol>@trade or <symbol>@bookTicker`;
const wrongSymbol = (stream: string, symbol: string): string =>
  `stream "${stream}" is not for ${symbol}, the symbol of this file's first stream: expected one symbol per file`;

/** Decimals as the exchange prints them, from the snapshot's and the first diff's levels. */
function precisionOf(...jsons: string[]): BookPrecision {
  let priceDecimals = 0;
  let qtyDecimals = 0;
  for (const json of jsons) {
    const m = JSON.parse(json) as { bids?: unknown; asks?: unknown; data?: { b?: unknown; a?: unknown } };
    for (const side of [m.bids, m.asks, m.data?.b, m.data?.a]) {
      if (!Array.isArray(side)) continue;
      for (const level of side as unknown[]) {
        if (!Array.isArray(level)) continue;
        const [p, q] = level as unknown[];
        if (typeof p === 'string') priceDecimals = Math.max(priceDecimals, decimalsOf(p));
        if (typeof q === 'string') qtyDecimals = Math.max(qtyDecimals, decimalsOf(q));
      }
    }
  }
  return { priceDecimals, qtyDecimals };
}

/** Futures snapshots carry `E` (event time); spot ones do not (0: unknown). */
function snapshotEventMs(json: string): number {
  const m = /"E":(\d+)/.exec(json);
  return m ? Number(m[1]) : 0;
}
