import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const collectorDir = fileURLToPath(new URL('..', import.meta.url));

/** A TCP port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

export interface CollectorProcess {
  url: string;
  child: ChildProcess;
  /** Everything the process printed so far. */
  output(): string;
  /** SIGTERM, waiting for the exit. */
  stop(): Promise<void>;
}

/**
 * The collector's Node arguments, as its `start` script (collector/package.json) has them. One V8
 * background thread instead of four: on two cores, more only fight the decode worker and PostgreSQL
 * for CPU (`pnpm bench:ingest`: about 5 % more events/s).
 */
export const COLLECTOR_NODE_ARGS = ['--v8-pool-size=1', '--import', 'tsx', 'src/server.ts'];

/** Starts the collector as `pnpm start` does (`src/server.ts`), resolving once it listens. */
export function startCollectorProcess(env: Record<string, string>): Promise<CollectorProcess> {
  const child = spawn(process.execPath, COLLECTOR_NODE_ARGS, {
    cwd: collectorDir,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = output.match(/listening on (http:\/\/\S+)/);
      if (match?.[1]) {
        resolve({
          url: match[1].replace('localhost', '127.0.0.1'),
          child,
          output: () => output,
          stop: () =>
            new Promise<void>((done) => {
              if (child.exitCode !== null) return done();
              child.once('exit', () => done());
              child.kill('SIGTERM');
            }),
        });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`collector exited with ${code}:\n${output}`)));
  });
}
