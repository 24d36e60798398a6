// The hand-written reference middleware of the benchmark (bench/app.mjs, bench/span.mjs): as
// little as any middleware doing a gate's job can do, so the gap to a gate is the gate's own.
import { subjectName } from './common.mjs';

/**
 * The reference for the metered rows: a per-subject counter in a Map, the same two headers
 * (with the same lowercase names as the gates), and a `close` listener that books the unit:
 * as little as a metering middleware can do.
 */
export function floorMiddleware() {
  const used = new Map();
  return (req, res, next) => {
    const user = req.get('x-user');
    const left = 1_000_000_000 - (used.get(user) ?? 0) - 1;
    res.setHeader('ratelimit', `"sms";r=${left}`);
    res.setHeader('tollgate-remaining', `"sms";r=${left}`);
    res.on('close', () => {
      if (res.statusCode < 400) used.set(user, (used.get(user) ?? 0) + 1);
    });
    next();
  };
}

/**
 * The reference for the cache-hit rows: what any cached entitlement check does at least. The
 * subjects' answers are in a Map (filled up front); per request it reads the caller, looks its
 * answer up, reads the clock for the answer's freshness and age, and attaches a small decision
 * where the gate attaches its own. No expiry, no events, no fallbacks.
 *
 * @param {number} subjects how many of the benchmark's subjects (`subjectName(i)`) hold an answer
 * @param {'express' | 'koa'} framework
 */
export function cachedCheckFloor(subjects, framework) {
  const fetchedAt = Date.now();
  const answers = new Map(
    Array.from({ length: subjects }, (_, i) => [
      subjectName(i),
      { allowed: true, planId: 'bench', fetchedAt, staleAt: fetchedAt + 3_600_000 },
    ]),
  );
  const decide = (user) => {
    const answer = answers.get(user);
    const now = Date.now();
    if (answer === undefined || now >= answer.staleAt) return undefined;
    return {
      allowed: answer.allowed,
      featureId: 'reports',
      planId: answer.planId,
      ageMs: now - answer.fetchedAt,
    };
  };
  if (framework === 'koa') {
    return (ctx, next) => {
      const decision = decide(ctx.get('x-user'));
      if (decision === undefined) ctx.throw(500, 'bench: no cached answer');
      ctx.state.tollgate = decision;
      return next();
    };
  }
  return (req, res, next) => {
    const decision = decide(req.get('x-user'));
    if (decision === undefined) return next(new Error('bench: no cached answer'));
    res.locals.tollgate = decision;
    next();
  };
}
