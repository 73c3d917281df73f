// `rt up --replay <file>...`: the same topology, trading recorded data instead of the synthetic
// market. The market data server replays the files; the feed gateway takes the files' symbols and
// market (futures or spot); a book per symbol is started by its first message, placed by the
// topology's `book/*` rule. The derived topology is written next to the run's data, so every node
// process reads the same file.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { isMap, parseDocument, type YAMLMap } from 'yaml';
import { ReplaySource } from './feed/replay-source.ts';

/** Kinds that serve market data (their options take source/files/speed) and that consume it. */
const SERVER_KINDS = ['feed-server'];
const GATEWAY_KINDS = ['feed-gateway'];

export class ReplayTopologyError extends Error {}

export interface ReplayTopology {
  file: string;
  symbols: string[];
  market: 'usdm' | 'spot';
}

export async function replayTopology(topologyFile: string, files: string[], speed: string, outDir: string): Promise<ReplayTopology> {
  const absFiles = files.map((f) => resolve(f));
  const source = await ReplaySource.open(absFiles);
  const symbols = source.symbols.map((s) => s.symbol);
  const markets = [...new Set(source.symbols.map((s) => s.market))];
  await source.close();
  if (markets.length !== 1) throw new ReplayTopologyError(`--replay: the files mix markets (${markets.join(', ')}): expected files of one market (one feed gateway per market)`);
  const market = markets[0] as 'usdm' | 'spot';
  const speedValue: number | 'max' = speed === 'max' ? 'max' : Number(speed);
  if (speedValue !== 'max' && !(speedValue > 0)) throw new ReplayTopologyError(`--speed ${speed}: expected a positive number or max`);

  const doc = parseDocument(readFileSync(topologyFile, 'utf8'));
  const actors = doc.get('actors');
  if (!isMap(actors)) throw new ReplayTopologyError(`${topologyFile}: no actors mapping`);
  let servers = 0;
  let gateways = 0;
  for (const item of (actors as YAMLMap).items) {
    const spec = item.value;
    if (!isMap(spec)) continue;
    const kind = String(spec.get('kind'));
    if (SERVER_KINDS.includes(kind)) {
      servers++;
      spec.setIn(['options', 'source'], 'replay');
      spec.setIn(['options', 'files'], absFiles);
      spec.setIn(['options', 'speed'], speedValue);
    } else if (GATEWAY_KINDS.includes(kind)) {
      gateways++;
      spec.setIn(['options', 'symbols'], symbols);
      spec.setIn(['options', 'market'], market);
    }
  }
  if (servers !== 1 || gateways < 1) {
    throw new ReplayTopologyError(`${topologyFile}: --replay needs exactly one actor of kind ${SERVER_KINDS.join('/')} (found ${servers}) and at least one of kind ${GATEWAY_KINDS.join('/')} (found ${gateways})`);
  }
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, `${basename(topologyFile).replace(/\.ya?ml$/, '')}.replay.yaml`);
  writeFileSync(file, `# Derived from ${resolve(topologyFile)} by rt up --replay ${files.join(' ')} --speed ${speed}\n${doc.toString()}`);
  return { file, symbols, market };
}
