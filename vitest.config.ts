import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (pkg: string) => fileURLToPath(new URL(`./packages/${pkg}/src/index.ts`, import.meta.url));

export default defineConfig({
  resolve: {
    // Tests run against the TypeScript sources; the built packages are checked by the
    // import smoke test (test/imports.test.ts), which resolves through the real exports maps.
    alias: {
      '@tollgate/core': src('core'),
      '@tollgate/server': src('server'),
      '@tollgate/express': src('express'),
      '@tollgate/koa': src('koa'),
    },
  },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'test/**/*.test.ts', 'examples/*/test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
