import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const collectorDir = fileURLToPath(new URL('..', import.meta.url));
const dataDir = mkdtempSync(join(tmpdir(), 'tributary-smoke-'));
const children: ChildProcess[] = [];

/** Starts `src/server.ts` as `pnpm start` does and collects what it prints until it listens. */
function startServer(env: Record<string, string>): Promise<{ output: string; url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: collectorDir,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = output.match(/listening on (http:\/\/\S+)/);
      if (match?.[1]) resolve({ output, url: match[1].replace('localhost', '127.0.0.1'), child });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`server exited with ${code}:\n${output}`)));
  });
}

const stop = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });

afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

describe('the collector process', () => {
  it('creates keys on first start, stores events in DATA_DIR and keeps them across restarts', async () => {
    const first = await startServer({});
    const writeKey = first.output.match(/write key[^:]*:\s+(\S+)/)?.[1];
    const apiKey = first.output.match(/API key[^:]*:\s+(\S+)/)?.[1];
    expect(writeKey).toMatch(/^wk_/);
    expect(apiKey).toMatch(/^sk_/);

    const sent = await fetch(`${first.url}/v1/track`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}` },
      body: JSON.stringify({ anonymousId: 'smoke', event: 'Smoke Tested', messageId: 'smoke-1' }),
    });
    expect(sent.status).toBe(200);
    await stop(first.child);

    const second = await startServer({});
    expect(second.output).not.toMatch(/write key/);
    const list = await fetch(`${second.url}/api/v1/cdp/events`, { headers: { authorization: `Bearer ${apiKey}` } });
    expect(list.status).toBe(200);
    const body = (await list.json()) as { events: { messageId: string }[] };
    expect(body.events.map((e) => e.messageId)).toContain('smoke-1');
    await stop(second.child);
  });

  it('refuses to start on a wrong setting and names it', async () => {
    await expect(startServer({ PORT: 'eighty' })).rejects.toThrow(/PORT/);
  });
});
