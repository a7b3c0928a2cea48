// The runtime-agnostic core: no DOM, no Node APIs, no side effects on import.
export * from './batcher';
export * from './consent';
export * from './delivery';
export * from './emitter';
export * from './errors';
export * from './event-builder';
export * from './identity';
export * from './merge';
export * from './plugins';
export * from './queue';
export * from './retry-policy';
export * from './session';
export * from './storage';
export type * from './transport';
export * from './uuid';
export * from './version';
export type * from './wire';
