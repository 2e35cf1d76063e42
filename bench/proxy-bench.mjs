#!/usr/bin/env node
// The pull-through cache's section of `npm run bench` on its own (bench/lib/proxy-cost.mjs says
// what it measures): Berth and, with --v3, distribution v3 in proxy mode, against 2.8.2.
//   node bench/proxy-bench.mjs [--v3 PATH] [--sizes 64,512] [--rounds 3] [--concurrency 16]
//                              [--upstream-mibps N (the upstream's link, default 100; 0: loopback)] [--out FILE]
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { MiB } from './lib/client.mjs';
import { measureProxy, proxyTable } from './lib/proxy-cost.mjs';
import { v3Binary } from './lib/servers.mjs';

const { values: opt } = parseArgs({
  options: {
    v3: { type: 'string' },
    sizes: { type: 'string', default: '64,512' },
    rounds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '16' },
    'upstream-mibps': { type: 'string', default: '100' },
    out: { type: 'string' },
  },
});
const v3 = v3Binary(opt.v3);
if (v3.path === null) console.log(`# distribution v3: not run (${v3.why})`);
const result = await measureProxy({ v3: v3.path, sizes: opt.sizes.split(',').map((s) => Number(s) * MiB), rounds: Number(opt.rounds), concurrency: Number(opt.concurrency), upstreamMiBps: Number(opt['upstream-mibps']) });
console.log(`\n${proxyTable(result)}`);
const out = opt.out ?? path.join('bench', 'results', `proxy-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
console.log(`\n# results in ${out}`);
