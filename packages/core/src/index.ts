export { createTollgate } from './engine/create-tollgate.js';
export type {
  Clock,
  Decision,
  DecisionReason,
  DecisionSource,
  Logger,
  MeterMode,
  Reservation,
  Tollgate,
  TollgateEventName,
  TollgateEvents,
  TollgateHooks,
  TollgateOptions,
  TollgateStats,
  Usage,
  UsageDecision,
} from './engine/types.js';
export type { TollgateErrorCode } from './errors.js';
export {
  AllocationExhaustedError,
  ClosedError,
  ConfigurationError,
  HttpError,
  hasErrorCode,
  InvalidAmountError,
  InvalidResponseError,
  isTollgateError,
  TollgateError,
  UnavailableError,
  UnsupportedError,
} from './errors.js';
// Shared with @tollgate/server, which answers in the same formats (one implementation each).
export { preferredMediaType } from './http/accept.js';
export * from './http/index.js';
export type {
  BalanceRange,
  LicensarioProvider,
  LicensarioProviderOptions,
  TransactionInput,
} from './provider/index.js';
export { licensarioProvider } from './provider/index.js';
export { formatWireDate, parseWireDate } from './provider/licensario/wire-format.js';
export type {
  MemoryFixture,
  MemoryLicenseFixture,
  MemoryProvider,
  MemoryProviderCalls,
} from './testing/memory-provider.js';
export { memoryProvider } from './testing/memory-provider.js';
export type {
  AdjustAllocationOptions,
  AdjustmentOutcome,
  Allocation,
  AllocationAdjustment,
  AllocationOptions,
  CallOptions,
  CreateLicenseOptions,
  EntitlementProvider,
  License,
  LicenseFeature,
  LicenseQuery,
  Plan,
  Subject,
  WriteOptions,
} from './types.js';
