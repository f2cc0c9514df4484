import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { startLatch, type RunningLatch } from '../../bot/latch.js';
import { requestAccess } from '../../handlers/request-access.js';
import { startSlackE2E, U, type SlackE2E } from '../e2e/slack-harness.js';
import { orgConfig } from '../support/configs.js';
import { eventually } from '../support/harness.js';
import { startLatchProcess, type LatchProcess } from '../support/latch-process.js';
import { RecordingNotifier } from '../support/recording-notifier.js';
import { MemoryProvisioner } from '../support/memory-provisioner.js';
import { ProvisionerRegistry } from '../../provisioners/registry.js';

const ROOT = resolve(import.meta.dirname, '../..');
const EXAMPLE = resolve(ROOT, 'scripts/example-provisioner.mjs');

/** A flow that lets mia, who is in no group, read staging. */
const CONTRACTORS = `  - name: contractors
    requesters: [mia@example.com]
    access:
      - { integration: orders, resources: { names: [orders-staging] }, permissions: [read] }
    approval: { autoApprove: true }
    duration: { default: 1h, max: 2h }
    justification: optional
`;

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');
const lineOf = (text: string, needle: string): number => text.split('\n').findIndex((line) => line.includes(needle)) + 1;

let e2e: SlackE2E | null = null;
let latch: RunningLatch | null = null;
let child: LatchProcess | null = null;
let dir = '';
afterEach(async () => {
  await e2e?.close();
  e2e = null;
  await latch?.stop();
  latch = null;
  if (child && child.child.exitCode === null) child.child.kill('SIGKILL');
  child = null;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = '';
});

type Call = { method: string; args: Record<string, unknown> };

describe('config reload', () => {
  it('puts a valid file in force at once, so a new flow is usable from Slack; refuses a broken one, keeps the old config and alerts the admins', async () => {
    e2e = await startSlackE2E();
    const env = e2e;
    const file = env.latch.ctx.current().file;
    const ask = async (): Promise<string> => {
      const { responseUrl } = await env.command(U.mia, 'request orders-staging read for 1h because quarterly audit');
      return String((await env.slack.waitFor('response_url', (call: Call) => call.args.url === responseUrl)).args.text);
    };
    expect(await ask()).toContain('You are not among the people who may request read on orders/orders-staging');

    const valid = orgConfig({ extra: CONTRACTORS });
    writeFileSync(file, valid);
    const loaded = await env.latch.reload();
    expect(loaded).toMatchObject({ ok: true, changed: true, sha256: sha256(valid), changes: { flows: { added: ['contractors'], removed: [], changed: [] }, integrations: { added: [], removed: [], changed: [] } } });
    const answer = await ask();
    const id = /AR-[0-9A-Z]{8}/.exec(answer)?.[0];
    expect(id, answer).toBeDefined();
    await env.settle();
    expect((await env.latch.store.getRequest(id ?? ''))?.request).toMatchObject({ state: 'active', flow: 'contractors' });
    const audit = await env.latch.store.auditEvents({});
    expect(audit.filter((event) => event.type === 'config.loaded').at(-1)?.data).toMatchObject({ file, sha256: sha256(valid), trigger: 'api', flows: 4, changes: { flows: { added: ['contractors'] } } });

    const broken = valid.replace('duration: { default: 1h, max: 2h }', 'duration: { default: 1h, max: 2 hours }');
    const line = lineOf(broken, '2 hours');
    writeFileSync(file, broken);
    const refused = await env.latch.reload();
    expect(refused).toMatchObject({ ok: false, sha256: sha256(broken), errors: [{ line, key: 'flows[3].duration.max' }] });
    expect(env.latch.ctx.current().hash).toBe(sha256(valid));
    expect(env.latch.ctx.current().config.flows.map((flow) => flow.name)).toContain('contractors');
    const event = (await env.latch.store.auditEvents({})).filter((candidate) => candidate.type === 'config.refused').at(-1);
    expect(event?.data).toMatchObject({ file, sha256: sha256(broken), kept: sha256(valid), errors: [{ file, line, key: 'flows[3].duration.max' }] });
    // The admin (sec@example.com) hears of it in a DM, with the same line `config check` prints.
    const alert = await env.slack.waitFor('chat.postMessage', (call: Call) => call.args.channel === U.sec && String(call.args.text).includes('refused the new config'));
    expect(String(alert.args.text)).toContain(`${file}:${line}:`);
    expect(String(alert.args.text)).toContain('"2 hours" is not a duration');
  });

  it('follows the file: an editor-style replace reloads it, rebuilding only the backends whose settings changed; a broken save is refused and logged with its line', async () => {
    dir = mkdtempSync(join(tmpdir(), 'latch-reload-'));
    const file = join(dir, 'latch.yaml');
    const integration = (name: string, timeoutMs: number): string => `  - name: ${name}
    type: command
    connection: { command: ${EXAMPLE}, env: EXAMPLE_PROVISIONER_STATE, timeoutMs: ${timeoutMs} }
    owner: owner@example.com
    resources:
      - { name: ${name}-handbook, permissions: [edit] }
`;
    const config = (wikiTimeout: number, extraFlow = ''): string => `version: 1
settings:
  admins: [sec@example.com]
integrations:
${integration('wiki', wikiTimeout)}${integration('notes', 10000)}flows:
  - name: writers
    requesters: [alice@example.com]
    access:
      - { integration: wiki, resources: any, permissions: [edit] }
      - { integration: notes, resources: any, permissions: [edit] }
    approval: { autoApprove: true }
    duration: { default: 1h, max: 2h }
    justification: optional
${extraFlow}`;
    writeFileSync(file, config(10000));
    const logged: Record<string, unknown>[] = [];
    const capture = new Writable({ write(chunk: Buffer, _encoding, done) { for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) logged.push(JSON.parse(line) as Record<string, unknown>); done(); } });
    latch = await startLatch({
      configFile: file, databaseUrl: `sqlite:${join(dir, 'latch.db')}`, port: 0, host: '127.0.0.1', logger: pino({ level: 'info' }, capture),
      notifier: new RecordingNotifier(), env: { EXAMPLE_PROVISIONER_STATE: join(dir, 'backend.json'), PATH: process.env.PATH }, runner: { sweep: '*/1 * * * * *' },
    });
    const running = latch;
    const integrationNamed = (name: string) => {
      const found = running.ctx.current().config.integrations.find((candidate) => candidate.name === name);
      if (!found) throw new Error(`no integration ${name}`);
      return found;
    };
    const wikiBefore = running.ctx.provisioners.for(integrationNamed('wiki'));
    const notesBefore = running.ctx.provisioners.for(integrationNamed('notes'));

    // The way editors and config-map mounts save: a new file renamed over the old one.
    const changed = config(9000, `  - name: readers
    requesters: [bob@example.com]
    access: [{ integration: notes, resources: any, permissions: [edit] }]
    approval: { autoApprove: true }
    duration: { default: 1h, max: 2h }
    justification: optional
`);
    writeFileSync(`${file}.tmp`, changed);
    renameSync(`${file}.tmp`, file);
    await eventually(() => running.ctx.current().hash === sha256(changed), 'the renamed file to be loaded');
    const loaded = (await running.store.auditEvents({})).filter((event) => event.type === 'config.loaded').at(-1);
    expect(loaded?.data).toMatchObject({ trigger: 'file', sha256: sha256(changed), changes: { flows: { added: ['readers'] }, integrations: { changed: ['wiki'] } } });
    expect(running.ctx.provisioners.for(integrationNamed('wiki'))).not.toBe(wikiBefore);
    expect(running.ctx.provisioners.for(integrationNamed('notes'))).toBe(notesBefore);
    const bob = await requestAccess(running.ctx, { email: 'bob@example.com', via: 'test' }, { resource: 'notes-handbook', permission: 'edit' });
    expect(bob.ok).toBe(true);
    expect(logged.some((line) => line.level === 30 && String(line.msg).startsWith('config reloaded: flows +readers; integrations ~wiki'))).toBe(true);

    const broken = changed.replace('requesters: [bob@example.com]', 'requesters: [bob@example.com]\n    aprovers: []');
    const line = lineOf(broken, 'aprovers');
    writeFileSync(file, broken);
    await eventually(async () => (await running.store.auditEvents({})).some((event) => event.type === 'config.refused'), 'the broken save to be refused');
    expect(running.ctx.current().hash).toBe(sha256(changed));
    const error = logged.find((entry) => entry.level === 50 && String(entry.msg).startsWith('config reload refused'));
    expect(String(error?.msg)).toContain(`${file}:${line}:5 flows[1].aprovers: unknown key "aprovers"`);
    const refused = (await running.store.auditEvents({})).filter((event) => event.type === 'config.refused');
    expect(refused).toHaveLength(1);
    expect(refused[0]?.data).toMatchObject({ trigger: 'file', errors: [{ line, column: 5, key: 'flows[1].aprovers' }] });
  });

  it('refuses a file that drops an integration still holding live access', async () => {
    dir = mkdtempSync(join(tmpdir(), 'latch-reload-'));
    const file = join(dir, 'latch.yaml');
    writeFileSync(file, orgConfig());
    latch = await startLatch({
      configFile: file, databaseUrl: `sqlite:${join(dir, 'latch.db')}`, port: 0, host: '127.0.0.1', logger: pino({ level: 'silent' }),
      notifier: new RecordingNotifier(), provisioners: new ProvisionerRegistry({}).use('orders', new MemoryProvisioner()), env: {}, watchConfig: false,
    });
    const running = latch;
    const created = await requestAccess(running.ctx, { email: 'alice@example.com', via: 'test' }, { resource: 'orders-staging', permission: 'read' });
    if (!created.ok) throw new Error(created.message);
    await eventually(async () => (await running.store.getRequest(created.record.request.id))?.request.state === 'active', 'the staging access to be active');
    writeFileSync(file, 'version: 1\nsettings:\n  admins: [sec@example.com]\n');
    const outcome = await running.reload();
    expect(outcome).toMatchObject({ ok: false, errors: [{ key: 'integrations.orders', message: expect.stringContaining(created.record.request.id) }] });
    expect(running.ctx.current().config.integrations.map((integration) => integration.name)).toEqual(['orders']);
  });
});

describe('latch config reload', () => {
  it('signals the running server through its pid file and prints what it made of the file', { timeout: 90_000 }, async () => {
    dir = mkdtempSync(join(tmpdir(), 'latch-reload-cli-'));
    const file = join(dir, 'latch.yaml');
    const config = (flow: string): string => `version: 1
settings:
  admins: [sec@example.com]
integrations:
  - name: wiki
    type: command
    connection: { command: ${EXAMPLE}, env: EXAMPLE_PROVISIONER_STATE }
    owner: owner@example.com
    resources:
      - { name: handbook, permissions: [edit] }
flows:
  - name: ${flow}
    requesters: [alice@example.com]
    access: [{ integration: wiki, resources: any, permissions: [edit] }]
    approval: { autoApprove: true }
    duration: { default: 1h, max: 2h }
    justification: optional
`;
    writeFileSync(file, config('writers'));
    const database = `sqlite:${join(dir, 'latch.db')}`;
    child = await startLatchProcess({ LATCH_CONFIG: file, DATABASE_URL: database, EXAMPLE_PROVISIONER_STATE: join(dir, 'backend.json') });
    expect(readFileSync(join(dir, 'latch.pid'), 'utf8').trim()).toBe(String(child.child.pid));

    const cli = (): Promise<{ code: number; stdout: string; stderr: string }> => new Promise((done) => {
      execFile(join(ROOT, 'node_modules', '.bin', 'tsx'), ['scripts/latch.ts', 'config', 'reload'], { cwd: ROOT, env: { ...process.env, DATABASE_URL: database }, timeout: 60_000 }, (error, stdout, stderr) => {
        done({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
      });
    });
    // Written in place, then the CLI asked at once: whichever of the watcher and SIGHUP comes first, the CLI reports the signal's reload.
    writeFileSync(file, config('editors'));
    const loaded = await cli();
    expect(loaded, loaded.stderr).toMatchObject({ code: 0 });
    expect(loaded.stdout).toContain(`Latch (pid ${child.child.pid}) loaded ${file}`);
    expect(loaded.stdout).toMatch(/flows \+editors -writers|no changes/);

    const broken = config('editors').replace('max: 2h', 'max: 2 hours');
    writeFileSync(file, broken);
    const refused = await cli();
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain(`${file}:${lineOf(broken, '2 hours')}:30 flows[0].duration.max: "2 hours" is not a duration`);
    expect(refused.stdout).toContain('refused the config and keeps running on the previous one');
    expect(child.lines.some((line) => line.level === 50 && String(line.msg).includes(`${file}:${lineOf(broken, '2 hours')}:30`))).toBe(true);

    // SIGUSR2 turns debug logging on, and off again, without a restart.
    const running = child;
    running.child.kill('SIGUSR2');
    await eventually(() => running.lines.some((line) => line.level === 20 && line.msg === 'SIGUSR2 received: log level is now debug'), 'debug logging to be on');
    running.child.kill('SIGUSR2');
    await eventually(() => running.lines.some((line) => line.level === 30 && line.msg === 'SIGUSR2 received: log level is now info'), 'debug logging to be off');

    child.child.kill('SIGTERM');
    expect((await child.exited).code).toBe(0);
    expect(existsSync(join(dir, 'latch.pid'))).toBe(false);
    const gone = await cli();
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('no running Latch found');
  });
});
