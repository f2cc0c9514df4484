import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigRefused, startLatch, type RunningLatch } from '../../bot/latch.js';
import { requestAccess } from '../../handlers/request-access.js';
import { orgConfig } from '../support/configs.js';
import { RecordingNotifier } from '../support/recording-notifier.js';
import { MemoryProvisioner } from '../support/memory-provisioner.js';
import { ProvisionerRegistry } from '../../provisioners/registry.js';

const run = promisify(execFile);
let latch: RunningLatch | null = null;
let dir = '';
afterEach(async () => {
  await latch?.stop();
  latch = null;
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  dir = mkdtempSync(join(tmpdir(), 'latch-server-'));
  return dir;
}

describe('the server', () => {
  it('answers /healthz once ready and serves Prometheus metrics from the store', async () => {
    const root = tempDir();
    writeFileSync(join(root, 'latch.yaml'), orgConfig());
    const provisioners = new ProvisionerRegistry({}).use('orders', new MemoryProvisioner());
    latch = await startLatch({
      configFile: join(root, 'latch.yaml'), databaseUrl: `sqlite:${join(root, 'latch.db')}`, port: 0, host: '127.0.0.1',
      logger: pino({ level: 'silent' }), notifier: new RecordingNotifier(), provisioners, env: {},
    });
    const base = `http://127.0.0.1:${latch.port}`;
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });

    await requestAccess(latch.ctx, { email: 'alice@example.com', via: 'test' }, { resource: 'orders-prod', permission: 'read', reason: 'INC-3' });
    const metrics = await fetch(`${base}/metrics`);
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    const text = await metrics.text();
    expect(text).toContain('latch_requests{state="pending"} 1');
    expect(text).toMatch(/latch_jobs\{state="pending"\} [1-9]/);
    expect(text).toContain('latch_grants_active 0');
    expect(text).toContain('latch_revocation_lag_seconds_bucket');

    const audit = await latch.store.auditEvents({});
    expect(audit[0]).toMatchObject({ type: 'config.loaded', actor: 'latch', data: { flows: 3, integrations: 1 } });
  });

  it('refuses to start on an invalid config, naming the file, line and key', async () => {
    const root = tempDir();
    const file = join(root, 'latch.yaml');
    const text = orgConfig().replace('duration: { default: 1h, max: 4h }', 'duration: { default: 1h, max: 4 hours }');
    writeFileSync(file, text);
    const line = text.split('\n').findIndex((candidate) => candidate.includes('4 hours')) + 1;
    const started = startLatch({ configFile: file, databaseUrl: `sqlite:${join(root, 'latch.db')}`, port: 0, logger: pino({ level: 'silent' }), env: {} });
    await expect(started).rejects.toBeInstanceOf(ConfigRefused);
    await expect(started).rejects.toThrow(`latch.yaml:${line}:30 flows[1].duration.max: "4 hours" is not a duration`);
  });

  it('npm start exits with the same report when LATCH_CONFIG is broken', { timeout: 30_000 }, async () => {
    const root = tempDir();
    const file = join(root, 'broken.yaml');
    writeFileSync(file, 'version: 1\nflows:\n  - name: x\n    requsters: []\n');
    const failed = await run('npx', ['tsx', 'bot/main.ts'], { env: { ...process.env, LATCH_CONFIG: file, DATABASE_URL: `sqlite:${join(root, 'latch.db')}`, PORT: '0' } }).then(() => null, (error: { code: number; stderr: string }) => error);
    expect(failed?.code).toBe(1);
    expect(failed?.stderr).toContain('Latch will not start: the config has errors.');
    expect(failed?.stderr).toContain(`${file}:4:5 flows[0].requsters: unknown key "requsters"`);
  });
});

describe('integration health', () => {
  it('reports each integration in /healthz?details=1 without failing readiness', async () => {
    const root = tempDir();
    writeFileSync(join(root, 'latch.yaml'), orgConfig());
    const provisioners = new ProvisionerRegistry({}).use('orders', new MemoryProvisioner());
    latch = await startLatch({
      configFile: join(root, 'latch.yaml'), databaseUrl: `sqlite:${join(root, 'latch.db')}`, port: 0, host: '127.0.0.1',
      logger: pino({ level: 'silent' }), notifier: new RecordingNotifier(), provisioners, env: {},
    });
    const plain = await fetch(`http://127.0.0.1:${latch.port}/healthz`);
    expect(await plain.json()).toEqual({ status: 'ok' });
    const detailed = await fetch(`http://127.0.0.1:${latch.port}/healthz?details=1`);
    expect(detailed.status).toBe(200);
    expect(await detailed.json()).toEqual({
      status: 'ok',
      integrations: [{ integration: 'orders', type: 'postgresql', ok: true, checks: [{ name: 'connect', ok: true }], lastGrantMs: null, lastRevokeMs: null }],
    });
  });
});
