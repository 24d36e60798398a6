/**
 * The `tollgate-server` command, as functions a test can call: `runCli` parses arguments and
 * the environment and starts the server; `main` adds the process wiring (signals, exit code).
 */
import { parseArgs } from 'node:util';
import { isTollgateError } from '@tollgate/core';
import type { Credential } from './http/auth.js';
import { createServer, type TollgateServer } from './server.js';

/** Where the CLI writes (the real one: stdout / stderr). */
export interface CliIo {
  out(line: string): void;
  err(line: string): void;
}

/** The parts of `process` that `main` uses (a test passes a stand-in). */
export interface CliProcess {
  once(event: 'SIGTERM' | 'SIGINT', listener: (signal: NodeJS.Signals) => void): unknown;
  exit(code: number): void;
}

/** What `runCli` ends with: a running server, or an exit code to stop with. */
export type CliResult =
  | { server: TollgateServer; exitCode?: undefined }
  | { server?: undefined; exitCode: number };

export const USAGE = `Usage: tollgate-server --catalog FILE [--port 4000] [--host 127.0.0.1] [--data-dir DIR | --in-memory]
                       [--api-key KEY --api-secret SECRET]

Credentials: --api-key/--api-secret, or TOLLGATE_API_KEY / TOLLGATE_API_SECRET
(comma-separated lists of the same length give several pairs, for key rotation).
Data: --data-dir (default ./.tollgate-data) keeps licences across restarts; --in-memory keeps nothing.`;

class UsageError extends Error {}

function credentialsFrom(
  values: { 'api-key'?: string | undefined; 'api-secret'?: string | undefined },
  env: NodeJS.ProcessEnv,
): Credential[] {
  const flagKey = values['api-key'];
  const flagSecret = values['api-secret'];
  if (flagKey !== undefined || flagSecret !== undefined) {
    if (!flagKey || !flagSecret) throw new UsageError('Pass both --api-key and --api-secret, or neither.');
    return [{ key: flagKey, secret: flagSecret }];
  }
  const keys = (env.TOLLGATE_API_KEY ?? '').split(',').map((s) => s.trim());
  const secrets = (env.TOLLGATE_API_SECRET ?? '').split(',').map((s) => s.trim());
  if (keys.every((k) => k === '') && secrets.every((s) => s === '')) {
    throw new UsageError(
      'No credentials: set TOLLGATE_API_KEY and TOLLGATE_API_SECRET (or pass --api-key and --api-secret).',
    );
  }
  if (keys.length !== secrets.length || keys.some((k) => k === '') || secrets.some((s) => s === '')) {
    throw new UsageError(
      'TOLLGATE_API_KEY and TOLLGATE_API_SECRET must list the same number of non-empty, comma-separated values.',
    );
  }
  return keys.map((key, i) => ({ key, secret: secrets[i]! }));
}

/**
 * Parse `argv` (without `node` and the script) and `env`, and start the server. Problems are
 * written to `io.err` and returned as an exit code (2 = usage, 1 = could not start).
 *
 * @example
 * const result = await runCli(['--catalog', 'examples/catalog.json', '--port', '0', '--in-memory'], env, io);
 * if (result.server) await result.server.close();
 */
export async function runCli(argv: readonly string[], env: NodeJS.ProcessEnv, io: CliIo): Promise<CliResult> {
  let server: TollgateServer;
  try {
    const { values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        catalog: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        'data-dir': { type: 'string' },
        'in-memory': { type: 'boolean' },
        'api-key': { type: 'string' },
        'api-secret': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      io.out(USAGE);
      return { exitCode: 0 };
    }
    if (values.catalog === undefined) throw new UsageError('--catalog FILE is required.');
    const port = values.port === undefined ? 4000 : Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535 || values.port?.trim() === '') {
      throw new UsageError(`--port must be a whole number from 0 to 65535 (got "${values.port}").`);
    }
    if (values['in-memory'] && values['data-dir'] !== undefined) {
      throw new UsageError('Pass --data-dir or --in-memory, not both.');
    }
    const credentials = credentialsFrom(values, env);
    server = await createServer({
      catalog: values.catalog,
      port,
      host: values.host ?? '127.0.0.1',
      credentials,
      ...(values['in-memory'] ? {} : { dataDir: values['data-dir'] ?? '.tollgate-data' }),
    });
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.err(`tollgate-server: ${(error as Error).message}\n\n${USAGE}`);
      return { exitCode: 2 };
    }
    if (isTollgateError(error)) {
      io.err(`tollgate-server: ${error.message}`);
      return { exitCode: 1 };
    }
    throw error;
  }
  io.out(`Tollgate server listening on ${server.url}`);
  io.out(
    `Try: curl -H "ISV_API_KEY: $TOLLGATE_API_KEY" -H "ISV_API_SECRET: $TOLLGATE_API_SECRET" ${server.url}/api/v1/plans`,
  );
  return { server };
}

/**
 * The process around `runCli`: exit with its code, or run until SIGTERM/SIGINT, then close
 * the server (in-flight requests finish, the database is closed) and exit 0.
 *
 * @example
 * await main(process.argv.slice(2), process.env, { out: console.log, err: console.error });
 */
export async function main(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  io: CliIo,
  proc: CliProcess = process,
): Promise<TollgateServer | undefined> {
  let result: CliResult;
  try {
    result = await runCli(argv, env, io);
  } catch (error) {
    io.err(`tollgate-server: could not start: ${(error as Error).message}`);
    proc.exit(1);
    return undefined;
  }
  if (result.server === undefined) {
    proc.exit(result.exitCode);
    return undefined;
  }
  const { server } = result;
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    io.out(`Received ${signal}; closing.`);
    server.close().then(
      () => proc.exit(0),
      (error: unknown) => {
        io.err(`tollgate-server: error while closing: ${(error as Error).message}`);
        proc.exit(1);
      },
    );
  };
  proc.once('SIGTERM', stop);
  proc.once('SIGINT', stop);
  return server;
}
