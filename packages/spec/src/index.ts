export * from './cdp-events';
export * from './errors';
export * from './event-types';
export * from './segment';
