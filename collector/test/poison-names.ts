/**
 * Names that look up or assign through an object's prototype when used as keys, in the cases a
 * case-insensitive table would also meet: hostile as event names, property, trait and consent keys.
 */
export const POISON_NAMES = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'valueOf',
  '__defineGetter__',
  'isPrototypeOf',
  'Constructor',
  'CONSTRUCTOR',
  '__PROTO__',
] as const;
