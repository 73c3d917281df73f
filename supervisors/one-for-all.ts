import type { Strategy } from './strategy.ts';

/** Every child is restarted: for children that cannot run without each other. */
export const oneForAll: Strategy = (children) => [...children];
