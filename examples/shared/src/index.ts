/**
 * @tollgate/example-shared: what the examples' start commands have in common, so each example
 * keeps only its app and its banner. Private to this repository; run from source by tsx.
 */
export {
  type Backend,
  type BackendOptions,
  CATALOG_PATH,
  type RemoteService,
  remoteFromEnv,
  SEED,
  startBackend,
} from './backend.js';
export { closeServer, type Listenable, type Served, type ServeOptions, serve } from './serve.js';
export { tryTheApi } from './try-the-api.js';
