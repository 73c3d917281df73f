import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import type { LatencySummary } from './latency.ts';

/** One named figure, exactly as BENCH.md specifies it. */
export interface Figure {
  name: string;
  value: number;
  unit: string;
  better: 'lower' | 'higher';
  /** Samples (latency) or messages (throughput) behind the value. */
  n: number;
  /** How it was measured: pinning, payload, rounds. BENCH.md asks for both to be stated. */
  note?: string;
}

export interface MachineInfo {
  cpus: number;
  cpu_model: string;
  node: string;
  pinned: boolean;
}

/** More about what was measured on (server settings, how each process was pinned), merged into `machine`. */
export type MachineExtra = Record<string, string | number | boolean>;

export interface BenchResult {
  suite: string;
  command: string;
  when: string;
  machine: MachineInfo & MachineExtra;
  figures: Figure[];
}

export interface BenchReportOptions {
  /** Whether the measured processes ran under `taskset -c`. */
  pinned: boolean;
  /** File name under bench/results without `.json`; defaults to the suite name. */
  file?: string;
  /** Defaults to bench/results next to this file, so the cwd does not matter. */
  results_dir?: URL;
  machine_extra?: MachineExtra;
}

const FIGURE_NAME = /^[a-z0-9_]+(\.[a-z0-9_]+)+$/;
const DECIMALS = 3;

/** Collects figures for one suite, writes bench/results/<file>.json and prints them as a table. */
export class BenchReport {
  readonly #suite: string;
  readonly #command: string;
  readonly #options: BenchReportOptions;
  readonly #figures: Figure[] = [];

  constructor(suite: string, command: string, options: BenchReportOptions) {
    this.#suite = suite;
    this.#command = command;
    this.#options = options;
  }

  add(figure: Figure): void {
    if (!FIGURE_NAME.test(figure.name)) {
      throw new Error(`bench figure name "${figure.name}": expected dotted lower_snake segments like "ipc.rtt.p99_us"`);
    }
    if (!Number.isFinite(figure.value)) {
      throw new Error(`bench figure ${figure.name}: value ${figure.value} is not a finite number`);
    }
    if (!Number.isInteger(figure.n) || figure.n < 1) {
      throw new Error(`bench figure ${figure.name}: n=${figure.n}, expected a positive integer sample count`);
    }
    if (this.#figures.some((f) => f.name === figure.name)) {
      throw new Error(`bench figure ${figure.name} added twice to suite ${this.#suite}`);
    }
    this.#figures.push({ ...figure, value: round(figure.value) });
  }

  /** Adds `<prefix>.p50_us`, `.p99_us` and `.p999_us` from one latency summary. */
  addLatency(prefix: string, summary: LatencySummary, note?: string): void {
    const percentiles = [
      ['p50_us', summary.p50_us],
      ['p99_us', summary.p99_us],
      ['p999_us', summary.p999_us],
    ] as const;
    for (const [suffix, value] of percentiles) {
      this.add({ name: `${prefix}.${suffix}`, value, unit: 'us', better: 'lower', n: summary.n, note });
    }
  }

  result(): BenchResult {
    return {
      suite: this.#suite,
      command: this.#command,
      // BENCH.md shows second precision; milliseconds would only suggest a precision nobody uses.
      when: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      machine: { ...machineInfo(this.#options.pinned), ...this.#options.machine_extra },
      figures: [...this.#figures],
    };
  }

  /** Writes the JSON file, prints the table and returns the path written. */
  async write(): Promise<string> {
    const result = this.result();
    const dir = this.#options.results_dir ?? new URL('./results/', import.meta.url);
    await mkdir(dir, { recursive: true });
    const file = new URL(`${this.#options.file ?? this.#suite}.json`, dir);
    await writeFile(file, `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(formatTable(result));
    return file.pathname;
  }
}

export function machineInfo(pinned: boolean): MachineInfo {
  const list = cpus();
  return { cpus: list.length, cpu_model: list[0]?.model ?? 'unknown', node: process.version, pinned };
}

function round(value: number): number {
  const scale = 10 ** DECIMALS;
  return Math.round(value * scale) / scale;
}

function formatTable(result: BenchResult): string {
  const { machine } = result;
  const extra = Object.entries(machine).filter(([key]) => !['cpus', 'cpu_model', 'node', 'pinned'].includes(key));
  const header = ['figure', 'value', 'unit', 'better', 'n', 'note'];
  const rows = result.figures.map((f) => [f.name, String(f.value), f.unit, f.better, String(f.n), f.note ?? '']);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  // Numbers right-aligned so magnitudes line up; the note column is left ragged.
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === 1 || i === 4 ? c.padStart(widths[i]) : i === cells.length - 1 ? c : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [
    `suite ${result.suite} (${result.command}) at ${result.when}`,
    `machine: ${machine.cpus} x ${machine.cpu_model}, node ${machine.node}, pinned=${machine.pinned}`,
    ...extra.map(([key, value]) => `  ${key}: ${String(value)}`),
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    '',
  ].join('\n');
}
