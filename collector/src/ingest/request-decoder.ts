import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { RefusedEvent } from '@tributary/spec';
import { type ErrorIssue, HttpError } from '../http/errors';
import type { DecodeInput, DecodeResult } from './decode-request';
import type { IngestBatch } from './event-row';

/** An HttpError as plain data: structured cloning keeps an Error's message, not its fields. */
interface WireError {
  status: HttpError['status'];
  code: string;
  message: string;
  issues?: ErrorIssue[];
}
type WireResult =
  | { parseError: WireError }
  | { writeKey: string | undefined; error: WireError }
  | { writeKey: string | undefined; batch: IngestBatch; refused: RefusedEvent[] };
type Reply = { id: number; result: WireResult } | { id: number; failure: string };

const wireError = (e: HttpError): WireError => ({
  status: e.status,
  code: e.code,
  message: e.message,
  issues: e.issues,
});
const httpError = (e: WireError) => new HttpError(e.status, e.code, e.message, e.issues);

export function toWire(result: DecodeResult): WireResult {
  if ('parseError' in result) return { parseError: wireError(result.parseError) };
  if ('error' in result) return { writeKey: result.writeKey, error: wireError(result.error) };
  return result;
}

function fromWire(result: WireResult): DecodeResult {
  if ('parseError' in result) return { parseError: httpError(result.parseError) };
  if ('error' in result) return { writeKey: result.writeKey, error: httpError(result.error) };
  return result;
}

/**
 * Decoding allocates several times the size of each request and keeps almost none of it: with V8's
 * default young generation (16 MB semi-spaces) garbage collection took about a quarter of decoding's
 * CPU, with 64 MB semi-spaces (192 MB of young generation) far less (`pnpm bench:ingest`).
 */
const DECODE_WORKER_LIMITS = { maxYoungGenerationSizeMb: 192 };

/** The worker runs from the same kind of file as this module: TypeScript under tsx and Vitest, JavaScript once built. */
export function spawnDecodeWorker(): Worker {
  const entry = new URL(`./decode-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url);
  const options = { resourceLimits: DECODE_WORKER_LIMITS };
  if (!entry.pathname.endsWith('.ts')) return new Worker(entry, options);
  // A worker does not inherit the main thread's loader hooks: it registers tsx before loading its entry.
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import { register } from ${JSON.stringify(tsx)}; register(); await import(${JSON.stringify(entry.href)});`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(boot)}`), options);
}

/**
 * Bodies larger than this decode on a worker of their own. A worker decodes one request after another,
 * and a 2,500-event batch takes it hundreds of ms: small requests (a page view, a login) queued behind
 * it would wait as long. The SDKs' batches of about a hundred events stay below.
 */
export const LARGE_BODY_CHARS = 128 * 1024;

/**
 * Decodes tracking requests (parse, validate, enrich, encode: `decodeRequest`) on worker threads.
 * That work is the bulk of a request's own CPU; off the main thread it no longer delays the replies
 * from PostgreSQL that flushes wait for, and it uses a second core. Large bodies have a worker of
 * their own (`LARGE_BODY_CHARS`). A worker starts on first use (or `warm`) and restarts after a crash
 * (the requests it held fail with a 500). It keeps the process alive only while it holds requests.
 */
export class RequestDecoder {
  readonly #spawn: () => Worker;
  /** The workers for small and for large bodies. */
  readonly #workers: [Worker | null, Worker | null] = [null, null];
  readonly #pending = new Map<
    number,
    { worker: Worker; resolve: (r: DecodeResult) => void; reject: (e: Error) => void }
  >();
  #nextId = 0;

  constructor(spawn: () => Worker = spawnDecodeWorker) {
    this.#spawn = spawn;
  }

  /** Starts the worker ahead of the first request, which would otherwise wait for it to load. */
  warm(): void {
    if (!this.#workers[0]) this.#start(0);
  }

  decode(input: DecodeInput): Promise<DecodeResult> {
    const lane = input.text.length > LARGE_BODY_CHARS ? 1 : 0;
    const worker = this.#workers[lane] ?? this.#start(lane);
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { worker, resolve, reject });
      worker.ref();
      worker.postMessage({ id, input });
    });
  }

  /** Stops the workers; requests they still held fail. */
  async close(): Promise<void> {
    const workers = [...this.#workers];
    this.#workers.fill(null);
    await Promise.all(workers.map((w) => w?.terminate()));
  }

  #start(lane: 0 | 1): Worker {
    const worker = this.#spawn();
    worker.unref();
    worker.on('message', (reply: Reply) => {
      const pending = this.#pending.get(reply.id);
      this.#pending.delete(reply.id);
      if (![...this.#pending.values()].some((p) => p.worker === worker)) worker.unref();
      if (!pending) return;
      if ('failure' in reply) pending.reject(new Error(`decoding failed: ${reply.failure}`));
      else pending.resolve(fromWire(reply.result));
    });
    worker.on('error', (err) => this.#lost(worker, err));
    worker.on('exit', (code) => this.#lost(worker, new Error(`the decode worker stopped (exit code ${code})`)));
    this.#workers[lane] = worker;
    return worker;
  }

  #lost(worker: Worker, err: Error) {
    const lane = this.#workers.indexOf(worker);
    if (lane !== -1) this.#workers[lane] = null;
    for (const [id, p] of this.#pending) {
      if (p.worker !== worker) continue;
      this.#pending.delete(id);
      p.reject(err);
    }
  }
}

/** One decoder per process: it holds no state of its own, so every app in the process can share its worker. */
export const sharedRequestDecoder = new RequestDecoder();
