/**
 * The dashboard build: relative asset paths (base `./`), so the same files work at
 * `/` of any taskwire server; no source maps and no external resources.
 * `npm run dev` proxies the API and the WebSocket to a server on :8080.
 */
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

export default defineConfig({
  base: './',
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false, reportCompressedSize: false, target: 'es2022' },
  server: {
    proxy: {
      '/api/v1/ws': { target: 'ws://127.0.0.1:8080', ws: true },
      '/api': 'http://127.0.0.1:8080',
    },
  },
});
