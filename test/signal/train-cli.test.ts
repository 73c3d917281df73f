import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { SeededRandom } from '../../actors/feed/seeded-random.ts';
import { sharedDataFile } from '../../actors/feed/recorded-file.ts';
import { FEATURE_NAMES } from '../../actors/signal/features.ts';
import { mlpFromJson, predict } from '../../actors/signal/mlp.ts';
import { OnnxSignalModel } from '../../actors/signal/onnx-model.ts';
import type { TrainReport } from '../../actors/signal/train.ts';

const TRAIN_BIN = fileURLToPath(new URL('../../bin/train.mjs', import.meta.url));
const DATA = sharedDataFile('usdm-btcusdt_20240808.gz');
if (!DATA) console.log('train-cli.test: skipped: needs ../shared/data/binance/usdm-btcusdt_20240808.gz (recorded data, not in the repository)');

const dir = mkdtempSync(join(tmpdir(), 'signal-train-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [TRAIN_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('npm run train', () => {
  it.skipIf(!DATA)('trains on a slice of a recorded file; onnxruntime-node and predict() agree on both columns of the model it writes', async () => {
    const out = join(dir, 'slice.onnx');
    const r = await run(['--file', DATA!, '--slice', '20000', '--out', out, '--seed', '5']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/usdm-btcusdt_20240808\.gz: BTCUSDT, \d+ tops -> \d+ rows .*up [\d.]+%, flat [\d.]+%, down [\d.]+%/);
    const side = (name: string): string => `${name}: accuracy [\\d.]+% vs majority-class \\([01]\\) baseline [\\d.]+%, AUC [\\d.]+`;
    expect(r.stdout).toMatch(new RegExp(`held back: \\d+ rows \\(up [\\d.]+%, flat [\\d.]+%, down [\\d.]+%\\); ${side('p_up')}; ${side('p_down')}`));
    expect(r.stdout).toMatch(/suggested thresholds .*: buy_above 0\.\d+, sell_above 0\.\d+; on the held-back rows \d+ buy \+ \d+ sell intents in [\d.]+ min = [\d.]+\/min/);

    const report = JSON.parse(readFileSync(join(dir, 'slice.json'), 'utf8')) as TrainReport;
    expect(report).toMatchObject({ features: [...FEATURE_NAMES], horizon_ms: 1000, seed: 5, slice_lines: 20000, trained_on: ['usdm-btcusdt_20240808.gz'] });
    expect(report.rows.train).toBeGreaterThan(100);
    expect(report.rows.held_back).toBeGreaterThan(50);
    expect(report.outputs).toEqual(['p_up', 'p_down']);
    const hb = report.held_back;
    expect(hb.up_rate + hb.flat_rate + hb.down_rate).toBeCloseTo(1, 12);
    expect(report.suggested).toMatchObject({ quantile: 0.95, min_interval_ms: 1000 });
    for (const t of [report.suggested.buy_above, report.suggested.sell_above]) {
      expect(t > 0 && t < 1).toBe(true);
      expect(Math.round(t * 100) / 100).toBe(t);
    }

    const model = mlpFromJson(report.model);
    const onnx = await OnnxSignalModel.load(out);
    try {
      expect(onnx.metadata).toMatchObject({
        horizonMs: 1000,
        trainedOn: ['usdm-btcusdt_20240808.gz'],
        seed: 5,
        outputs: ['p_up', 'p_down'],
        suggestedBuyAbove: report.suggested.buy_above,
        suggestedSellAbove: report.suggested.sell_above,
      });
      expect(onnx.metadata.metrics.up_auc).toBe(hb.up.auc);
      expect(onnx.metadata.metrics.down_auc).toBe(hb.down.auc);
      const rng = new SeededRandom(11);
      const rows = Array.from({ length: 64 }, () => Float32Array.from(model.mean, (m, f) => m + 3 * model.std[f] * rng.normal()));
      const batch = new Float32Array(rows.length * model.inputSize);
      rows.forEach((row, i) => batch.set(row, i * model.inputSize));
      const got = await onnx.run(batch, rows.length);
      const want = predict(model, rows);
      expect(got.length).toBe(2 * rows.length);
      expect(want.length).toBe(2 * rows.length);
      for (let i = 0; i < got.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThan(1e-5);
    } finally {
      await onnx.release();
    }
  });

  it('trains on the built-in synthetic market without recorded data', async () => {
    const out = join(dir, 'synthetic.onnx');
    const r = await run(['--synthetic', '--synthetic-ms', '80000', '--out', out]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/synthetic:BTCUSDT:seed=1:80000ms: BTCUSDT, \d+ tops -> \d+ rows/);
    expect(r.stdout).toMatch(/held back: \d+ rows \(up [\d.]+%, flat [\d.]+%, down [\d.]+%\); p_up: .*; p_down: /);
    const onnx = await OnnxSignalModel.load(out);
    try {
      expect(onnx.metadata.trainedOn).toEqual(['synthetic:BTCUSDT:seed=1:80000ms', 'synthetic:ETHUSDT:seed=1:80000ms']);
      expect(onnx.metadata.outputs).toEqual(['p_up', 'p_down']);
      const p = await onnx.run(new Float32Array(onnx.featureCount), 1);
      expect(p.length).toBe(2);
      expect(p.every((v) => v > 0 && v < 1)).toBe(true);
    } finally {
      await onnx.release();
    }
  });

  it('says what is wrong with a bad flag, and writes nothing', async () => {
    const out = join(dir, 'bad.onnx');
    const r = await run(['--horizon-ms', '150', '--out', out, '--file', DATA ?? '/nonexistent.gz']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--horizon-ms 150: expected a positive multiple of the 100 ms bar/);
    expect(existsSync(out)).toBe(false);
  });
});
