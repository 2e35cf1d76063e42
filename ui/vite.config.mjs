// Builds the web UI into dist/ui (served at ui.path by src/http/ui.ts): relative asset URLs so any
// ui.path works, hashed file names, no inline scripts or styles (the server's CSP forbids them).
import { defineConfig } from 'vite';

export default defineConfig({
  root: import.meta.dirname,
  base: './',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: '../dist/ui',
    emptyOutDir: true,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    target: 'es2022',
  },
});
