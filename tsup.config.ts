import { defineConfig } from 'tsup'

// Shared by every publishable package: `tsup --config ../../tsup.config.ts` from the package dir.
export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
})
