import { describe, expect, it } from 'vitest';
import { type ConfigurationError, hasErrorCode } from '../../errors.js';
import { resolveLicensarioOptions } from './options.js';
import { licensarioProvider } from './provider.js';

const SECRET = 'super-secret-value-7f3a';
const good = { baseUrl: 'http://localhost:4000', apiKey: 'key', apiSecret: SECRET };

function configError(run: () => unknown): ConfigurationError {
  try {
    run();
  } catch (error) {
    expect(hasErrorCode(error, 'TOLLGATE_CONFIG')).toBe(true);
    expect(String((error as Error).message)).not.toContain(SECRET);
    return error as ConfigurationError;
  }
  throw new Error('expected a ConfigurationError');
}

describe('licensarioProvider options', () => {
  it('applies the documented defaults', () => {
    const config = resolveLicensarioOptions(good);
    expect(config).toMatchObject({
      origin: 'http://localhost:4000',
      basePath: '',
      timeoutMs: 2000,
      connections: 16,
      keepAliveTimeoutMs: 4000,
    });
  });

  it('keeps a path prefix of baseUrl, without the trailing slash', () => {
    const config = resolveLicensarioOptions({
      ...good,
      baseUrl: new URL('https://api.example.com/licensario/'),
    });
    expect(config.origin).toBe('https://api.example.com');
    expect(config.basePath).toBe('/licensario');
  });

  it('refuses a baseUrl that is not an absolute http(s) URL, saying what to pass', () => {
    for (const baseUrl of ['localhost:4000', 'not a url', 'ftp://example.com', '']) {
      const error = configError(() => licensarioProvider({ ...good, baseUrl }));
      expect(error.message).toMatch(/baseUrl.*http:\/\/localhost:4000/);
    }
  });

  it('refuses credentials inside baseUrl without echoing them', () => {
    const error = configError(() =>
      licensarioProvider({ ...good, baseUrl: `http://user:${SECRET}@localhost:4000` }),
    );
    expect(error.message).toContain('apiKey and apiSecret');
  });

  it('refuses an empty apiKey or apiSecret, naming the option', () => {
    expect(configError(() => licensarioProvider({ ...good, apiKey: '' })).message).toContain(
      'apiKey is empty',
    );
    expect(configError(() => licensarioProvider({ ...good, apiSecret: '' })).message).toContain(
      'apiSecret is empty',
    );
  });

  it('refuses credentials a header cannot carry (a stray newline from a .env file), without echoing them', () => {
    const error = configError(() => licensarioProvider({ ...good, apiSecret: `${SECRET}\n` }));
    expect(error.message).toContain('apiSecret contains characters a header cannot carry');
    expect(JSON.stringify(error.issues)).not.toContain(SECRET);
  });

  it('refuses a non-positive timeout or pool size, with zod issues attached', () => {
    const error = configError(() => licensarioProvider({ ...good, timeoutMs: 0, connections: 1.5 }));
    expect(error.message).toContain('timeoutMs');
    expect(error.message).toContain('connections');
    expect(error.issues).toHaveLength(2);
  });

  it('refuses a dispatcher that is not an undici dispatcher', () => {
    const error = configError(() => licensarioProvider({ ...good, dispatcher: {} as never }));
    expect(error.message).toContain('undici Dispatcher');
  });
});
