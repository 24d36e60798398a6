import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

// `pnpm start` runs this very command (examples/upsell: `tsx src/main.ts`) against the built
// packages, so this test needs `pnpm build` first (as `pnpm test` does).
const exampleDir = fileURLToPath(new URL('../examples/upsell/', import.meta.url));
const tsx = fileURLToPath(new URL('../examples/upsell/node_modules/.bin/tsx', import.meta.url));

describe('examples/upsell main (pnpm start)', () => {
  let child: ChildProcess | undefined;

  afterEach(() => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    child = undefined;
  });

  it('prints its URL and how to try it, serves the home page, and exits 0 on SIGTERM', async () => {
    child = spawn(tsx, ['src/main.ts'], {
      cwd: exampleDir,
      env: { ...process.env, PORT: '0', TOLLGATE_DATA_DIR: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const exited = once(child, 'exit');
    const url = await new Promise<string>((resolve, reject) => {
      child?.stdout?.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        const match = /Tollgate upsell demo: (http:\/\/localhost:\d+)/.exec(stdout);
        if (match?.[1] && stdout.includes('Press Ctrl-C to stop.')) resolve(match[1]);
      });
      child?.once('exit', (code) =>
        reject(new Error(`main exited (${code}) before printing its URL:\n${stderr}`)),
      );
    });

    expect(stdout).toContain('Try this:');
    expect(stdout).toContain('Start free trial');
    expect(stdout).toContain('data in memory');

    const home = await fetch(url.replace('localhost', '127.0.0.1'));
    expect(home.status).toBe(200);
    expect(await home.text()).toContain('Sign in as Carol');

    child.kill('SIGTERM');
    const [code, signal] = await exited;
    expect({ code, signal, stderr }).toEqual({ code: 0, signal: null, stderr: '' });
    expect(stdout).toContain('Stopped.');
  });
});
