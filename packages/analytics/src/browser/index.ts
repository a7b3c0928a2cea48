// `@tributary/analytics`: the browser SDK for bundlers.
export type { DeliveryEvents } from '../core/delivery';
export { isTributaryError, TributaryError, type TributaryErrorCode } from '../core/errors';
export type { User } from '../core/identity';
export type { Plugin } from '../core/plugins';
export { VERSION } from '../core/version';
export type { CallOptions, ConsentPreferences, EventType, Properties, WireEvent } from '../core/wire';
export { type Analytics, type BrowserOptions, createAnalytics } from './analytics';
