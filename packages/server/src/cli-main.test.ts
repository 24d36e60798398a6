import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { main, runCli } from './cli-main.js';
import type { TollgateServer } from './server.js';

const catalog = join(__dirname, '../../../examples/catalog.json');
const started: TollgateServer[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const s of started.splice(0)) await s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) } };
}

describe('tollgate-server', () => {
  it('starts from env credentials (rotation pairs), prints the URL and answers as documented', async () => {
    const { out, io } = capture();
    const result = await runCli(
      ['--catalog', catalog, '--port', '0', '--in-memory'],
      { TOLLGATE_API_KEY: 'old,new', TOLLGATE_API_SECRET: 'old-secret,new-secret' },
      io,
    );
    const server = result.server!;
    started.push(server);
    expect(out[0]).toBe(`Tollgate server listening on ${server.url}`);
    expect(out[0]).toMatch(/^Tollgate server listening on http:\/\/127\.0\.0\.1:\d+$/);
    expect(out.join('\n')).not.toContain('secret');
    for (const [key, secret] of [
      ['old', 'old-secret'],
      ['new', 'new-secret'],
    ]) {
      const res = await fetch(`${server.url}/api/v1/plans`, {
        headers: { ISV_API_KEY: key!, ISV_API_SECRET: secret! },
      });
      expect(res.status).toBe(200);
    }
    const res = await fetch(`${server.url}/api/v1/users/external/cli/licenses`, {
      method: 'POST',
      headers: {
        ISV_API_KEY: 'new',
        ISV_API_SECRET: 'new-secret',
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'paymentPlanId=pro&trial=true',
    });
    expect(res.status).toBe(201);
    expect(await res.text()).toContain('is_trial="true"');
  });

  it('takes --api-key/--api-secret and a --data-dir', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-cli-'));
    dirs.push(dir);
    const { io } = capture();
    const result = await runCli(
      ['--catalog', catalog, '--port', '0', '--data-dir', dir, '--api-key', 'k', '--api-secret', 's'],
      {},
      io,
    );
    started.push(result.server!);
    const res = await fetch(`${result.server!.url}/api/v1/plans`, {
      headers: { ISV_API_KEY: 'k', ISV_API_SECRET: 's' },
    });
    expect(res.status).toBe(200);
  }, 60_000);

  it.each([
    [[], {}, /--catalog FILE is required/],
    [['--catalog', catalog, '--in-memory'], {}, /No credentials: set TOLLGATE_API_KEY/],
    [
      ['--catalog', catalog, '--in-memory'],
      { TOLLGATE_API_KEY: 'a,b', TOLLGATE_API_SECRET: 'x' },
      /same number/,
    ],
    [
      ['--catalog', catalog, '--port', 'http'],
      { TOLLGATE_API_KEY: 'a', TOLLGATE_API_SECRET: 'x' },
      /--port must be/,
    ],
    [['--catalog', catalog, '--api-key', 'k'], {}, /both --api-key and --api-secret/],
    [['--catalog', catalog, '--bogus'], {}, /bogus/],
  ] as const)('exits 2 with usage for %j', async (argv, env, message) => {
    const { err, io } = capture();
    const result = await runCli(argv, env, io);
    expect(result.exitCode).toBe(2);
    expect(err.join('\n')).toMatch(message);
    expect(err.join('\n')).toContain('Usage: tollgate-server');
  });

  it('exits 1 naming the bad path when the catalog is invalid', async () => {
    const { err, io } = capture();
    const result = await runCli(
      ['--catalog', join(__dirname, 'no-such.json'), '--in-memory'],
      { TOLLGATE_API_KEY: 'a', TOLLGATE_API_SECRET: 'b' },
      io,
    );
    expect(result.exitCode).toBe(1);
    expect(err[0]).toMatch(/Cannot read the catalog file/);
  });

  it('closes cleanly on SIGTERM and exits 0', async () => {
    const proc = Object.assign(new EventEmitter(), { exit: (_code: number) => {} });
    const exited = new Promise<number>((resolve) => {
      proc.exit = resolve;
    });
    const { out, io } = capture();
    const server = await main(
      ['--catalog', catalog, '--port', '0', '--in-memory'],
      { TOLLGATE_API_KEY: 'a', TOLLGATE_API_SECRET: 'b' },
      io,
      proc,
    );
    expect(server).toBeDefined();
    const url = server!.url;
    expect(
      (await fetch(`${url}/api/v1/plans`, { headers: { ISV_API_KEY: 'a', ISV_API_SECRET: 'b' } })).status,
    ).toBe(200);
    proc.emit('SIGTERM', 'SIGTERM');
    expect(await exited).toBe(0);
    expect(out).toContain('Received SIGTERM; closing.');
    await expect(fetch(`${url}/api/v1/plans`)).rejects.toThrow();
  });
});
