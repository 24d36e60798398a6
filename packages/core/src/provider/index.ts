export type { LicensarioProviderOptions } from './licensario/options.js';
export type { BalanceRange, LicensarioProvider, TransactionInput } from './licensario/provider.js';
export { licensarioProvider } from './licensario/provider.js';
