#!/usr/bin/env node
// Small requests with metrics on versus off (docs/operations.md, "What metrics cost"), on its own:
// the same section `npm run bench` runs (bench/lib/metrics-cost.mjs). Run after `npm run build`:
//   node bench/metrics-overhead.mjs [--duration 3] [--rounds 3] [--concurrency 64]
// It prints one line per load and the on/off ratios; it asserts nothing (timings on a shared
// machine are rough).
import { parseArgs } from 'node:util';
import { measureMetricsCost, metricsCostTable } from './lib/metrics-cost.mjs';

const { values: opt } = parseArgs({ options: { duration: { type: 'string', default: '3' }, rounds: { type: 'string', default: '3' }, concurrency: { type: 'string', default: '64' } } });
const cost = await measureMetricsCost({ durationMs: Number(opt.duration) * 1000, rounds: Number(opt.rounds), concurrency: Number(opt.concurrency), log: (...a) => console.error(...a) });
console.log(metricsCostTable(cost));
