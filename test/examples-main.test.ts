import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

// Each example's `start` script is `exec node --import tsx src/main.ts`: this spawns the same
// command, against the built packages, so it needs `pnpm build` first (as `pnpm test` does).
// `exec` matters: without it the POSIX shell pnpm runs scripts in dies on Ctrl-C and pnpm
// reports a failure even though the example stopped cleanly.

interface Started {
  child: ChildProcess;
  url: string;
  output: () => { stdout: string; stderr: string };
  exited: Promise<[number | null, NodeJS.Signals | null]>;
}

const children: ChildProcess[] = [];
/** A cold start (tsx transpiling, the embedded PostgreSQL booting) on a busy 2-core CI machine. */
const START_BUDGET_MS = 90_000;

async function startMain(example: string, banner: RegExp): Promise<Started> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: fileURLToPath(new URL(`../examples/${example}/`, import.meta.url)),
    env: { ...process.env, PORT: '0', TOLLGATE_DATA_DIR: '', TOLLGATE_URL: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = banner.exec(stdout);
      if (match?.[1] && stdout.includes('Press Ctrl-C to stop.')) resolve(match[1]);
    });
    child.once('exit', (code) =>
      reject(new Error(`${example} exited (${code}) before printing its URL:\n${stderr}`)),
    );
  });
  return { child, url: url.replace('localhost', '127.0.0.1'), output: () => ({ stdout, stderr }), exited };
}

describe('the examples start with their main command and stop cleanly', () => {
  afterEach(() => {
    for (const child of children.splice(0)) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });

  it(
    'upsell (pnpm start): prints its URL and how to try it, serves the home page, exits 0 on SIGTERM',
    async () => {
      const main = await startMain('upsell', /Tollgate upsell demo: (http:\/\/localhost:\d+)/);
      expect(main.output().stdout).toContain('Try this:');
      expect(main.output().stdout).toContain('Start free trial');
      expect(main.output().stdout).toContain('data in memory');

      const home = await fetch(main.url);
      expect(home.status).toBe(200);
      expect(await home.text()).toContain('Sign in as Carol');

      main.child.kill('SIGTERM');
      const [code, signal] = await main.exited;
      expect({ code, signal, stderr: main.output().stderr }).toEqual({ code: 0, signal: null, stderr: '' });
      expect(main.output().stdout).toContain('Stopped.');
    },
    START_BUDGET_MS,
  );

  it.each([
    ['express', /Express example: (http:\/\/localhost:\d+)/],
    ['koa', /Koa example: (http:\/\/localhost:\d+)/],
  ])(
    '%s: prints curl lines that work as printed, exits 0 on Ctrl-C (SIGINT)',
    async (example, banner) => {
      const main = await startMain(example, banner);
      expect(main.output().stdout).toContain(`curl -i ${main.url.replace('127.0.0.1', 'localhost')}/export`);

      const bob = await fetch(`${main.url}/export`, { headers: { 'X-User-Id': 'bob' } });
      expect(bob.status).toBe(200);
      const alice = await fetch(`${main.url}/export`, { headers: { 'X-User-Id': 'alice' } });
      expect(alice.status).toBe(403);

      main.child.kill('SIGINT');
      const [code, signal] = await main.exited;
      expect({ code, signal, stderr: main.output().stderr }).toEqual({ code: 0, signal: null, stderr: '' });
    },
    START_BUDGET_MS,
  );
});
