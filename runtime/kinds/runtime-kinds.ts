import { KindRegistry } from '../kind-registry.ts';
import { crasher, crasherDelayMs } from './crasher.ts';
import { echo } from './echo.ts';
import { forward, forwardTarget } from './forward.ts';
import { sink } from './sink.ts';
import { stall } from './stall.ts';
import { ticker, tickerOptions } from './ticker.ts';

/** The runtime's own diagnostic behaviours, usable from any topology. */
export function runtimeKinds(registry = new KindRegistry()): KindRegistry {
  return registry
    .register('echo', () => echo())
    .register('sink', () => sink())
    .register('stall', () => stall())
    .register('crasher', (ctx) => crasher(crasherDelayMs(ctx)))
    .register('forward', (ctx) => forward(forwardTarget(ctx)))
    .register('ticker', (ctx) => ticker(tickerOptions(ctx)));
}
