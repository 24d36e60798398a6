import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// Runs against the built packages (dist/) through their real `exports` maps, the way an
// installed copy is loaded: `pnpm test` builds before it runs the tests.
const fixtures = fileURLToPath(new URL('./fixtures/imports/', import.meta.url));
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

function exportsOf(file: string): Record<string, string[]> {
  return JSON.parse(execFileSync(process.execPath, [file], { cwd: fixtures, encoding: 'utf8' }));
}

describe('the packages load from JavaScript and TypeScript, as ESM and as CommonJS', () => {
  it('import and require expose the same named exports', () => {
    const esm = exportsOf('esm.mjs');
    const cjs = exportsOf('cjs.cjs');
    expect(cjs).toEqual(esm);
    expect(esm.core).toEqual(
      expect.arrayContaining(['createTollgate', 'isTollgateError', 'licensarioProvider', 'memoryProvider']),
    );
    expect(esm.server).toEqual(expect.arrayContaining(['createServer']));
    expect(esm.express).toEqual(expect.arrayContaining(['createGates', 'upsellRedirect']));
    expect(esm.koa).toEqual(expect.arrayContaining(['createGates', 'upsellRedirect']));
  });

  it('type-checks as an ESM (.mts) and a CommonJS (.cts) consumer', () => {
    // skipLibCheck as most consumers set it: PGlite's own declarations do not compile without
    // it. Resolution of our entry points and of the names imported is still checked.
    let diagnostics = '';
    try {
      execFileSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: fixtures, encoding: 'utf8' });
    } catch (error) {
      diagnostics = String((error as { stdout?: string }).stdout ?? error);
    }
    expect(diagnostics).toBe('');
  });
});
