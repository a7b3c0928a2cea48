// `@tributary/analytics/node`: the server-side SDK.
export type { DeliveryEvents } from '../core/delivery';
export { isTributaryError, TributaryError, type TributaryErrorCode } from '../core/errors';
export type { Plugin } from '../core/plugins';
export { VERSION } from '../core/version';
export type { EventType, Properties, WireEvent } from '../core/wire';
export {
  type AliasParams,
  Analytics,
  type Callback,
  type CloseResult,
  type GroupParams,
  type IdentifyParams,
  type NodeOptions,
  type PageParams,
  type TrackParams,
  type Who,
} from './analytics';
export { userHash } from './user-hash';
