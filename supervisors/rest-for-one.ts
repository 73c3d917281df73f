import type { Strategy } from './strategy.ts';

/** The failed child and every child started after it: for children that depend on earlier ones. */
export const restForOne: Strategy = (children, failed) => {
  const i = children.indexOf(failed);
  return i < 0 ? [failed] : children.slice(i);
};
