export {
  type Catalog,
  type CatalogFeature,
  type CatalogSource,
  catalogSchema,
  loadCatalog,
} from './catalog.js';
export { formatLicensarioDate, parseLicensarioDate } from './dates.js';
export { addDecimal, compareDecimal, formatAmount, parseAmount, subtractDecimal } from './decimal.js';
export type { Credential } from './http/auth.js';
export type { ServerStats } from './http/router.js';
export { localProvider } from './local-provider.js';
export { type Logger, silentLogger } from './logger.js';
export { createServer, type ServerOptions, type TollgateServer } from './server.js';
export { ServiceError, type ServiceErrorCode } from './service-error.js';
export { migrate } from './store/migrations.js';
export { pgliteClient, type Row, type SqlClient } from './store/sql-client.js';
export {
  type AllocationAmounts,
  type IdempotencyClaim,
  Store,
  type StoredFeature,
  type StoredLicense,
  type StoredResponse,
  type StoreOpenOptions,
  spreadUsage,
  type TransactionInput,
} from './store/store.js';
export {
  generateWizardSecret,
  signWizardToken,
  verifyWizardToken,
  WizardTokenError,
} from './wizard-token.js';
