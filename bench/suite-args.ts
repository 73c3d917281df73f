import { parseArgs } from 'node:util';
import { PINGPONG_DEFAULTS } from './raw/pingpong.ts';

/** The options of a round-trip suite: `[--rounds 3] [--round-trips 100000]`. */
export function roundTripArgs(argv: string[] = process.argv.slice(2)): { rounds: number; round_trips: number } {
  const { values } = parseArgs({
    args: argv,
    options: {
      rounds: { type: 'string', default: '3' },
      'round-trips': { type: 'string', default: String(PINGPONG_DEFAULTS.round_trips) },
    },
  });
  const rounds = Number(values.rounds);
  const round_trips = Number(values['round-trips']);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds ${values.rounds}: expected a positive integer`);
  if (!Number.isInteger(round_trips) || round_trips < 1) throw new Error(`--round-trips ${values['round-trips']}: expected a positive integer`);
  return { rounds, round_trips };
}
