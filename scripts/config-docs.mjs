#!/usr/bin/env node
// Rewrites the key table of docs/configuration.md from src/config/keys.ts (run after `npm run build`).
import { readFileSync, writeFileSync } from 'node:fs';
import { envName, KEYS } from '../dist/src/config/keys.js';

const path = new URL('../docs/configuration.md', import.meta.url);
const type = (t) => (typeof t === 'object' ? `one of ${t.oneOf.map((v) => `\`${v}\``).join(', ')}` : t);
const fallback = (key) => {
  if (key.default === undefined) return '';
  if (key.type !== 'duration') return `\`${JSON.stringify(key.default)}\``;
  const ms = key.default;
  return ms % 3_600_000 === 0 ? `${ms / 3_600_000}h` : ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
};
const header = '| key | environment | type | default | meaning |\n| --- | --- | --- | --- | --- |\n';
const rows = KEYS.map((key) => `| \`${key.path}\` | \`${envName(key.path)}\` | ${type(key.type)} | ${fallback(key)} | ${key.description} |`).join('\n');
const text = readFileSync(path, 'utf8');
const start = text.indexOf(header);
const end = text.indexOf('\n\n', start);
writeFileSync(path, text.slice(0, start) + header + rows + (end === -1 ? '\n' : text.slice(end)));
