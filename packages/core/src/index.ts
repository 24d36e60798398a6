export type {
  AdjustAllocationOptions,
  Allocation,
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
export {
  AllocationExhaustedError,
  ClosedError,
  ConfigurationError,
  HttpError,
  InvalidAmountError,
  InvalidResponseError,
  TollgateError,
  UnavailableError,
  hasErrorCode,
  isTollgateError,
} from './errors.js';
export type { TollgateErrorCode } from './errors.js';
export { licensarioProvider } from './provider/index.js';
export type { LicensarioProvider, LicensarioProviderOptions, TransactionInput } from './provider/index.js';
