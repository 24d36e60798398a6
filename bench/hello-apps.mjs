// The hello-world apps every benchmark mounts its variants in (bench/app.mjs, bench/span.mjs):
// one place, so a gated app and its bare baseline differ by the gate alone.
import express from 'express';
import Koa from 'koa';

/** An Express 5 app answering `hello` on GET `route`, behind `gate` if given. */
export function expressApp(gate, route = '/hello') {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  if (gate) app.get(route, gate, (_req, res) => res.send('hello'));
  else app.get(route, (_req, res) => res.send('hello'));
  return app;
}

/** A Koa 3 app's request handler answering `hello`, behind `gate` if given. */
export function koaApp(gate) {
  const app = new Koa();
  if (gate) app.use(gate);
  app.use((ctx) => {
    ctx.body = 'hello';
  });
  return app.callback();
}
