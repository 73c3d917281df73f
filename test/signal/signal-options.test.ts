import { describe, expect, it } from 'vitest';
import { META } from '../../actors/signal/onnx-export.ts';
import type { ModelMetadata } from '../../actors/signal/onnx-model.ts';
import { decisionRuleFor, signalOptions } from '../../actors/signal/signal-actor.ts';

const ctx = (options: Record<string, unknown>): Parameters<typeof signalOptions>[0] => ({ address: 'signal', node: 'strategy', options });

function metadata(suggestedBuyAbove: number, suggestedSellAbove: number): ModelMetadata {
  return { featureNames: [], barMs: 100, horizonMs: 1000, trainedOn: [], metrics: {}, seed: 1, outputs: ['p_up', 'p_down'], suggestedBuyAbove, suggestedSellAbove, irVersion: 8, opset: 13, producer: '', props: {} };
}

describe('signal options', () => {
  it('buy_above and sell_above default to the thresholds the model suggests', () => {
    const opts = signalOptions(ctx({}));
    expect(opts).toMatchObject({ buyAbove: undefined, sellAbove: undefined, minIntervalMs: 1000 });
    expect(decisionRuleFor(opts, metadata(0.41, 0.37), 'actor signal: options')).toEqual({ buyAbove: 0.41, sellAbove: 0.37, minIntervalMs: 1000 });
  });

  it('an option given wins over the model, each threshold on its own', () => {
    const opts = signalOptions(ctx({ sell_above: 0.5, min_interval_ms: 250 }));
    expect(decisionRuleFor(opts, metadata(0.41, 0.37), 'actor signal: options')).toEqual({ buyAbove: 0.41, sellAbove: 0.5, minIntervalMs: 250 });
  });

  it('names the field and what was expected when a threshold is not a probability', () => {
    expect(() => signalOptions(ctx({ buy_above: 1.5 }))).toThrow('actor signal: options.buy_above: expected a probability in (0, 1), got 1.5');
    expect(() => signalOptions(ctx({ sell_above: '0.6' }))).toThrow('actor signal: options.sell_above: expected a probability in (0, 1), got "0.6"');
  });

  it('refuses the one-sided model option sell_below, pointing to sell_above', () => {
    expect(() => signalOptions(ctx({ sell_below: 0.4 }))).toThrow(/options\.sell_below: no longer an option .*expected sell_above \(sell when p_down >= sell_above and p_down > p_up\), got sell_below 0\.4/);
  });

  it('without the option and without a usable suggestion in the model, says which option to set', () => {
    const opts = signalOptions(ctx({ buy_above: 0.6 }));
    expect(() => decisionRuleFor(opts, metadata(0.41, Number.NaN), 'actor signal: options')).toThrow(
      new RegExp(`actor signal: options\\.sell_above: not set, and model .* has no usable ${META.suggestedSellAbove} \\(got NaN\\); expected a probability in \\(0, 1\\)`),
    );
  });
});
