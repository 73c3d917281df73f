import { KindRegistry } from '../kind-registry.ts';
import { echo } from './echo.ts';
import { sink } from './sink.ts';
import { ticker, tickerOptions } from './ticker.ts';

/** The runtime's own diagnostic behaviours, usable from any topology. */
export function runtimeKinds(registry = new KindRegistry()): KindRegistry {
  return registry
    .register('echo', () => echo())
    .register('sink', () => sink())
    .register('ticker', (ctx) => ticker(tickerOptions(ctx)));
}
