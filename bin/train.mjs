#!/usr/bin/env node
// Entry point of `npm run train`: trains the signal model from recorded data and writes
// actors/signal/model.onnx (+ model.json). The sources are TypeScript run through tsx.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../actors/signal/train.ts');
process.exitCode = await main(process.argv.slice(2));
