import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// base './': the built index.html refers to its assets relatively, so the UI works when the
// server mounts it under a path prefix.
export default defineConfig({
  base: './',
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false, chunkSizeWarningLimit: 1000 },
});
