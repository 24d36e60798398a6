import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigurationError } from '@tollgate/core';
import { afterEach, describe, expect, it } from 'vitest';
import { loadCatalog } from './catalog.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const file = (content: string) => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-catalog-'));
  dirs.push(dir);
  const path = join(dir, 'catalog.json');
  writeFileSync(path, content);
  return path;
};

describe('loadCatalog', () => {
  it('loads examples/catalog.json', () => {
    const catalog = loadCatalog(join(__dirname, '../../../examples/catalog.json'));
    expect(catalog.plans.map((p) => p.id)).toEqual(['free', 'pro', 'team']);
    expect(catalog.plan('pro')).toMatchObject({ trialDays: 14, durationDays: 30 });
    expect(catalog.features('free')).toEqual([
      { id: 'reports', metered: false },
      { id: 'sms', metered: true, allocation: '10' },
    ]);
  });

  it('names every bad path and what is expected there', () => {
    const load = () =>
      loadCatalog({
        plans: [
          { id: 'free', name: 'Free', features: { reports: true } },
          { id: 'pro', name: 'Pro', trialDays: 1.5, features: { sms: 'lots', reports: false } },
        ],
      });
    expect(load).toThrow(ConfigurationError);
    let message = '';
    try {
      load();
    } catch (error) {
      message = (error as Error).message;
      expect((error as ConfigurationError).issues.length).toBe(3);
    }
    expect(message).toContain('plans[1].trialDays: expected a whole number of days');
    expect(message).toContain('plans[1].features.sms: expected true (a boolean feature) or a number ≥ 0');
    expect(message).toContain('plans[1].features.reports: expected true');
  });

  it('refuses duplicate plan ids', () => {
    expect(() =>
      loadCatalog({
        plans: [
          { id: 'free', name: 'Free', features: {} },
          { id: 'free', name: 'Again', features: {} },
        ],
      }),
    ).toThrow('plans[1].id: duplicate plan id "free"');
  });

  it('refuses unknown keys (typos) and an empty plan list', () => {
    expect(() => loadCatalog({ plans: [{ id: 'a', name: 'A', features: {}, trialdays: 3 }] })).toThrow(
      /trialdays/,
    );
    expect(() => loadCatalog({ plans: [] })).toThrow(/plans: expected at least one plan/);
  });

  it('says what to do when the file is missing or not JSON', () => {
    expect(() => loadCatalog('/nonexistent/catalog.json')).toThrow(
      /Cannot read the catalog file .*ENOENT.*--catalog/,
    );
    expect(() => loadCatalog(file('{ "plans": [ '))).toThrow(/not valid JSON/);
  });
});
