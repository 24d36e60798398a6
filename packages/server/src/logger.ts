/**
 * The logger the service writes to: pino-compatible (`pino()` fits as is). The default
 * discards everything, so a library user sees nothing unless they pass one.
 */

/** Pino-compatible logger shape. */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const noop = () => {};

/**
 * A logger that drops every line (the default).
 *
 * @example
 * createServer({ ...options, logger: silentLogger });
 */
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop };
