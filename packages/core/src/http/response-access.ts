/**
 * Accesses the metered gates make on every response, done without a full property lookup per
 * request.
 *
 * Express swaps the prototype of every `res`, which gives each response its own hidden class,
 * so V8's inline caches miss on the first access of each property. For a property found on a
 * prototype, the miss walks the whole chain (the response, `app.response`, Express's response,
 * `ServerResponse`, `OutgoingMessage`, `Stream`, `EventEmitter`). Measured in an Express app on
 * `close`: `res.writableFinished` 0.7–0.86 µs against 0.28–0.37 µs for Node's getter called
 * directly; `res.on('close', f)` 1.03–1.08 µs against 0.78–0.87 µs for the lookup below.
 * The two `setHeader` calls of a metered request's usage headers took about 0.3 µs less looked
 * up as `on` is (an Express app under load, the gate timed from its call to its `next()`: less
 * in six of seven alternating pairs of processes).
 * The results are the same as the plain accesses.
 */
import { OutgoingMessage, type ServerResponse } from 'node:http';

const writableFinishedGetter = Object.getOwnPropertyDescriptor(OutgoingMessage.prototype, 'writableFinished')
  ?.get as ((this: ServerResponse) => boolean) | undefined;

/**
 * `res.writableFinished`: the response was fully handed to the socket.
 *
 * Node's own getter is called directly on its responses (nothing between a response and
 * `OutgoingMessage.prototype` redefines it); anything else is read as usual.
 *
 * @example
 * res.on('close', () => console.log(writableFinished(res) ? 'sent' : 'aborted'));
 */
export function writableFinished(res: ServerResponse): boolean {
  return writableFinishedGetter !== undefined && res instanceof OutgoingMessage
    ? writableFinishedGetter.call(res)
    : res.writableFinished;
}

type CloseListener = (this: ServerResponse) => void;
type On = (this: ServerResponse, event: 'close', listener: CloseListener) => unknown;

/**
 * `res.on('close', listener)`, with `on` looked up as `res.on` would be: on the response itself
 * (a middleware such as `compression` patches it there), else on its prototype, whose hidden
 * class is the same on every request.
 *
 * @example
 * onClose(res, () => settle(res));
 */
export function onClose(res: ServerResponse, listener: CloseListener): void {
  (ownOrPrototype(res, 'on') as On).call(res, 'close', listener);
}

type SetHeader = (this: ServerResponse, name: string, value: string) => unknown;

/**
 * `res.setHeader(name, value)`, with `setHeader` looked up as {@link onClose} looks up `on`: on
 * the response itself if something patched it there, else on its prototype.
 *
 * @example
 * setResponseHeader(res, 'ratelimit', '"sms";r=41');
 */
export function setResponseHeader(res: ServerResponse, name: string, value: string): void {
  (ownOrPrototype(res, 'setHeader') as SetHeader).call(res, name, value);
}

/**
 * The method `res[name]` resolves to, read where it can be found without walking the chain: on
 * the response itself if something patched it there, else on its prototype (a class that
 * overrides it, or Express's per-app response object, which inherits Node's).
 */
function ownOrPrototype<K extends 'on' | 'setHeader'>(res: ServerResponse, name: K): ServerResponse[K] {
  return Object.hasOwn(res, name) ? res[name] : (Object.getPrototypeOf(res) as ServerResponse)[name];
}
