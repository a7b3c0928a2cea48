import { parentPort } from 'node:worker_threads';
import type { Keyring } from '../privacy/encryption';
import { type DecodeInput, decodeRequest } from './decode-request';
import { toWire } from './request-decoder';

// Structured cloning turns the keyring's Buffers into plain Uint8Arrays.
const reviveKeyring = (k: Keyring): Keyring => ({
  current: { id: k.current.id, key: Buffer.from(k.current.key) },
  all: new Map([...k.all].map(([id, key]) => [id, Buffer.from(key)])),
  blindIndexKey: Buffer.from(k.blindIndexKey),
  personalKeys: k.personalKeys,
});

parentPort?.on('message', ({ id, input }: { id: number; input: DecodeInput }) => {
  try {
    const result = decodeRequest({ ...input, keyring: reviveKeyring(input.keyring) });
    // The batch's buffers move to the main thread instead of being copied.
    const transfer = 'batch' in result ? [result.batch.copy.buffer, result.batch.lineStarts.buffer] : [];
    parentPort?.postMessage({ id, result: toWire(result) }, transfer);
  } catch (e) {
    parentPort?.postMessage({ id, failure: e instanceof Error ? (e.stack ?? e.message) : String(e) });
  }
});
