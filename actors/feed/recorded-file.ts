// Reading recorded market data files: gzip text, one message a line, `<receive time ns> <JSON>`
// (see ../shared/data/README.md). The JSON is left as text: the replay server sends it as is.
import { createReadStream, existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';

export interface RecordedLine {
  /** local receive time, ns since epoch (as a bigint: ns do not fit a double exactly) */
  recvNs: bigint;
  /** the JSON text: a combined-stream envelope, or a REST depth snapshot */
  json: string;
  /** 1-based line number, for error messages */
  line: number;
}

export class RecordedFileError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    message: string,
  ) {
    super(`${file}:${line}: ${message}`);
    this.name = 'RecordedFileError';
  }
}

/** Where the recorded data shared with this project lives (CI has it; a fresh clone does not). */
export const SHARED_DATA_DIR = new URL('../../../shared/data/binance/', import.meta.url).pathname;

export function sharedDataFile(name: string): string | undefined {
  const p = `${SHARED_DATA_DIR}${name}`;
  return existsSync(p) ? p : undefined;
}

/** Lines of a recorded file, in file order. A line without `<digits> <text>` is an error naming the line. */
export async function* readRecorded(file: string): AsyncGenerator<RecordedLine> {
  const input = createReadStream(file);
  const lines = createInterface({ input: file.endsWith('.gz') ? input.pipe(createGunzip()) : input, crlfDelay: Infinity });
  let n = 0;
  try {
    for await (const text of lines) {
      n++;
      if (text === '') continue;
      const sp = text.indexOf(' ');
      const ts = sp > 0 ? text.slice(0, sp) : '';
      if (!/^\d{1,20}$/.test(ts)) throw new RecordedFileError(file, n, `expected "<receive time ns> <JSON>", got ${JSON.stringify(text.slice(0, 60))}`);
      yield { recvNs: BigInt(ts), json: text.slice(sp + 1), line: n };
    }
  } finally {
    // A reader that stops early (a replay closed mid-file) releases the file now, not at GC.
    input.destroy();
  }
}

/** True for a REST depth snapshot line (as opposed to a stream message). */
export const isSnapshotLine = (json: string): boolean => json.startsWith('{"lastUpdateId"');
