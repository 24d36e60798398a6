// The hand-written reference middleware of the metered rows (bench/app.mjs, bench/span.mjs).
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
