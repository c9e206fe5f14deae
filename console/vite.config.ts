// Builds the console into console/dist (served by FlinkTrail at /). `npm run build` runs it.
import { fileURLToPath } from 'node:url';
import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  base: '/',
  plugins: [preact()],
  logLevel: 'warn',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    sourcemap: false,
    // FlinkTrail's CSP has no 'unsafe-inline': keep every script and style in files.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
  server: {
    // `npx vite --config console/vite.config.ts` with a FlinkTrail on :8470 for development.
    proxy: { '/api': 'http://127.0.0.1:8470', '/flink': 'http://127.0.0.1:8470' },
  },
});
