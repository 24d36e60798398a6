import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningDemo, startDemo } from '../examples/upsell/src/demo.js';
import { SESSION_COOKIE } from '../examples/upsell/src/session.js';

// The upsell app's rules at the HTTP level, against the real demo (embedded service in
// memory). The tests share the seeded users and run in order: carol starts with nothing.
const teamCard = (page: string) => /<li class="plan" data-plan="team">[\s\S]*?<\/li>/.exec(page)?.[0];

describe('examples/upsell app', () => {
  let demo: RunningDemo;
  const as = (user: string) => `${SESSION_COOKIE}=${user}`;

  beforeAll(async () => {
    demo = await startDemo({ port: 0, logger: { error: () => {} } });
  });

  afterAll(async () => {
    await demo?.close();
  });

  it('signs in with an HttpOnly, SameSite=Lax cookie and only follows a same-origin return_to', async () => {
    const ok = await request(demo.url).get('/sign-in').query({ user: 'bob', return_to: '/reports' });
    expect(ok.status).toBe(303);
    expect(ok.headers.location).toBe('/reports');
    expect(ok.headers['set-cookie']).toEqual([`${SESSION_COOKIE}=bob; Path=/; HttpOnly; SameSite=Lax`]);

    for (const evil of [
      'https://evil.example/',
      '//evil.example',
      '/\\evil.example',
      '/%2F%2Fevil.example',
    ]) {
      const res = await request(demo.url).get('/sign-in').query({ user: 'bob', return_to: evil });
      expect(res.headers.location, evil).toBe('/');
    }
    expect((await request(demo.url).get('/sign-in').query({ user: 'mallory' })).status).toBe(400);
  });

  it('answers an API client without the feature with problem+json and the upgrade URL, not a redirect', async () => {
    const res = await request(demo.url)
      .get('/reports')
      .set('Cookie', as('carol'))
      .set('Accept', 'application/json');
    expect(res.status).toBe(403);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({ reason: 'not_licensed', featureId: 'reports' });
    expect(res.body.upgradeUrl).toMatch(/^\/upgrade\?feature=reports(&|$)/);
  });

  it('escapes everything it echoes from the query string', async () => {
    const res = await request(demo.url)
      .get('/upgrade')
      .set('Cookie', as('carol'))
      .query({ feature: '<script>alert(1)</script>', return_to: '/a"><img src=x onerror=alert(1)>' });
    expect(res.status).toBe(200);
    expect(res.text).not.toContain('<script>alert');
    expect(res.text).not.toContain('<img');
    expect(res.text).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(res.headers['content-security-policy']).toContain("default-src 'none'");
  });

  it('refuses a plan that does not grant the feature and creates nothing', async () => {
    const res = await request(demo.url)
      .post('/upgrade')
      .set('Cookie', as('carol'))
      .type('form')
      .send({ plan: 'free', feature: 'export', mode: 'buy', return_to: '/reports' });
    expect(res.status).toBe(400);
    expect(await demo.tollgate.provider.getLicenses({ externalUserId: 'carol' })).toEqual([]);
  });

  it('lets the user in at once after choosing a plan: the cached denial is forgotten', async () => {
    const denied = await request(demo.url)
      .get('/reports')
      .set('Cookie', as('carol'))
      .set('Accept', 'text/html');
    expect(denied.status).toBe(303);
    expect(denied.headers.location).toBe('/upgrade?feature=reports&return_to=%2Freports');

    const chosen = await request(demo.url)
      .post('/upgrade')
      .set('Cookie', as('carol'))
      .type('form')
      .send({ plan: 'free', feature: 'reports', mode: 'buy', return_to: '//evil.example/reports' });
    expect(chosen.status).toBe(303);
    expect(chosen.headers.location).toBe('/'); // an unsafe return_to is never followed

    const allowed = await request(demo.url)
      .get('/reports')
      .set('Cookie', as('carol'))
      .set('Accept', 'text/html');
    expect(allowed.status).toBe(200);
    expect(allowed.text).toContain('You have access to reports');
  });

  it('offers a trial once: a second trial of the same plan gets 409, a message and no trial button', async () => {
    const alice = { externalUserId: 'alice' };
    const form = { plan: 'team', feature: 'export', mode: 'trial', return_to: '/' };
    const trial = await request(demo.url).post('/upgrade').set('Cookie', as('alice')).type('form').send(form);
    expect(trial.status).toBe(303);
    const team = (await demo.tollgate.provider.getLicenses(alice)).find((l) => l.planId === 'team');
    expect(team).toMatchObject({ trial: true });

    // While the trial runs, Team is her current plan: nothing to choose.
    const during = await request(demo.url)
      .get('/upgrade')
      .set('Cookie', as('alice'))
      .query({ feature: 'export' });
    expect(teamCard(during.text)).toContain('Your current plan');
    expect(teamCard(during.text)).not.toContain('<button');

    // Once it is gone (revoked here; revoked licences are not listed), the service refuses a second trial.
    await demo.tollgate.provider.revokeLicense(team?.id ?? '');
    const again = await request(demo.url).post('/upgrade').set('Cookie', as('alice')).type('form').send(form);
    expect(again.status).toBe(409);
    expect(again.text).toContain('already had a free trial');
    expect(teamCard(again.text)).toContain('Choose plan');
    expect(teamCard(again.text)).not.toContain('Start free trial');
  });

  it('sends signed-out visitors of gated pages and forms to the home page to pick a user', async () => {
    const res = await request(demo.url).get('/sms');
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/?return_to=%2Fsms');
    const post = await request(demo.url).post('/upgrade').type('form').send({ plan: 'pro' });
    expect(post.status).toBe(303);
  });
});
