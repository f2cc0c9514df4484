import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Integration as IntegrationSchema, type Integration } from '../../config/schema.js';
import { newId, newRequestId } from '../../core/ids.js';
import {
  CommandProvisioner,
  CommandProvisionerError,
  CommandSettingsError,
  createCommandProvisioner,
} from '../../provisioners/command.js';
import type { GrantInput, RevokeInput } from '../../provisioners/provisioner.js';

const EXAMPLE = fileURLToPath(new URL('../../scripts/example-provisioner.mjs', import.meta.url));
const HOUR = 3_600_000;

let dir: string;
let state: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'latch-command-'));
  state = path.join(dir, 'state', 'example.json');
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function integration(connection: Record<string, string | number | boolean>): Integration {
  return IntegrationSchema.parse({
    name: 'wiki',
    type: 'command',
    owner: 'group:leads',
    connection,
    resources: [{
      name: 'docs',
      labels: ['prod'],
      settings: { space: 'ENG' },
      permissions: { read: { group: 'readers' }, write: { group: 'writers' } },
    }],
  });
}

/** A throwaway executable in the temp dir. */
function script(name: string, body: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, body);
  chmodSync(file, 0o755);
  return file;
}

const node = (source: string) => `#!/usr/bin/env node\n${source}\n`;

function exampleProvisioner(extraEnv: NodeJS.ProcessEnv = {}): CommandProvisioner {
  return new CommandProvisioner(
    integration({ command: EXAMPLE, env: 'EXAMPLE_PROVISIONER_STATE', timeoutMs: 10_000 }),
    { PATH: process.env.PATH, EXAMPLE_PROVISIONER_STATE: state, ...extraEnv },
  );
}

function grantFor(target: Integration, options: { principal?: string; permission?: string; expiresAt?: number } = {}): GrantInput {
  const resource = target.resources[0];
  if (!resource) throw new Error('the test integration has no resource');
  const permission = options.permission ?? 'read';
  return {
    grantId: newId('gr'),
    requestId: newRequestId(),
    grantee: 'alice@example.com',
    integration: target,
    resource,
    permission,
    permissionSettings: resource.permissions[permission] ?? {},
    principal: options.principal ?? `latch_alice_${Math.random().toString(36).slice(2, 8)}`,
    expiresAt: options.expiresAt ?? Date.now() + HOUR,
  };
}

function revokeInput(input: GrantInput): RevokeInput {
  const { expiresAt: _expiresAt, ...rest } = input;
  return rest;
}

async function failure(promise: Promise<unknown>): Promise<CommandProvisionerError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(CommandProvisionerError);
    return error as CommandProvisionerError;
  }
  throw new Error('expected the operation to fail');
}

describe('command provisioner with scripts/example-provisioner.mjs', () => {
  it('grants with secrets and details, and a second grant keeps one principal with a new password', async () => {
    const provisioner = exampleProvisioner();
    const input = grantFor(integration({ command: EXAMPLE }));
    const first = await provisioner.grant(input);
    expect(first.principal).toBe(input.principal);
    expect(first.secrets?.password).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(first.details).toEqual({ username: input.principal, resource: 'docs', permission: 'read' });

    const second = await provisioner.grant(input);
    expect(second.principal).toBe(input.principal);
    expect(second.secrets?.password).not.toBe(first.secrets?.password);

    const listed = (await provisioner.listManaged()).filter((entry) => entry.principal === input.principal);
    expect(listed).toEqual([{ principal: input.principal, reference: input.grantId, expiresAt: input.expiresAt }]);
    // The example keeps no password in its state.
    expect(readFileSync(state, 'utf8')).not.toContain(second.secrets?.password ?? 'missing');
  });

  it('checks, extends, lists and revokes idempotently', async () => {
    const provisioner = createCommandProvisioner(
      integration({ command: EXAMPLE, env: 'EXAMPLE_PROVISIONER_STATE' }),
      { PATH: process.env.PATH, EXAMPLE_PROVISIONER_STATE: state },
    );
    const target = integration({ command: EXAMPLE });
    const input = grantFor(target);
    expect(await provisioner.check(revokeInput(input))).toBe('absent');
    await provisioner.grant(input);
    expect(await provisioner.check(revokeInput(input))).toBe('present');
    expect(await provisioner.check({ ...revokeInput(input), permission: 'write' })).toBe('absent');

    const later = Date.parse('2031-01-02T03:04:05.000Z');
    await provisioner.extend({ ...input, expiresAt: later });
    const managed = await provisioner.listManaged(target);
    expect(managed).toContainEqual({ principal: input.principal, reference: input.grantId, expiresAt: later });

    await provisioner.revoke(revokeInput(input));
    await provisioner.revoke(revokeInput(input));
    expect(await provisioner.check(revokeInput(input))).toBe('absent');
    expect((await provisioner.listManaged(target)).map((entry) => entry.principal)).not.toContain(input.principal);
    await provisioner.close();
  });

  it('passes on ok:false answers from the script with their message', async () => {
    const provisioner = exampleProvisioner();
    const input = grantFor(integration({ command: EXAMPLE }));
    const error = await failure(provisioner.extend(input));
    expect(error.message).toContain('integration "wiki"');
    expect(error.message).toContain('extend');
    expect(error.message).toContain(`${input.principal} does not exist`);
    expect(error.retryable).toBe(false);
  });

  it('reports health', async () => {
    const health = await exampleProvisioner().checkHealth();
    expect(health.ok).toBe(true);
    // The state file has no resources catalogue: the example refuses list-resources, which is no failure.
    expect(health.checks).toEqual([expect.objectContaining({ name: 'state-file', ok: true }), expect.objectContaining({ name: 'resources', ok: true })]);
  });
});

describe('command provisioner: list-resources', () => {
  const open = (command: string, env: NodeJS.ProcessEnv = { PATH: process.env.PATH }) =>
    new CommandProvisioner(integration({ command, env: 'EXAMPLE_PROVISIONER_STATE' }), env);

  it('reads what the example script offers from its state file, and the health check compares it with the config', async () => {
    const catalogue = path.join(dir, 'catalogue.json');
    writeFileSync(catalogue, JSON.stringify({ accounts: {}, resources: { docs: { permissions: ['read'], description: 'Engineering docs' }, hr: { permissions: ['read', 'write'] } } }));
    const provisioner = open(EXAMPLE, { PATH: process.env.PATH, EXAMPLE_PROVISIONER_STATE: catalogue });
    expect(await provisioner.listResources()).toEqual([
      { name: 'docs', permissions: ['read'], description: 'Engineering docs' },
      { name: 'hr', permissions: ['read', 'write'] },
    ]);
    // The config offers docs/write, which this backend does not know: a grant there would fail.
    const health = await provisioner.checkHealth();
    expect(health.ok).toBe(false);
    expect(health.checks.at(-1)).toEqual({ name: 'resources', ok: false, detail: 'the config names what the backend does not offer, so a grant there would fail: docs/write' });
  });

  it('sends a request without a grant and reads the answer', async () => {
    const capture = path.join(dir, 'list-request.json');
    const command = script('list.mjs', node(
      `import { writeFileSync } from 'node:fs';\nlet text = ''; process.stdin.on('data', (c) => { text += c; });\n`
      + `process.stdin.on('end', () => { writeFileSync(${JSON.stringify(capture)}, text); console.log(JSON.stringify({ ok: true, resources: [{ name: 'docs', permissions: ['read', 'write'] }] })); });`,
    ));
    expect(await open(command).listResources()).toEqual([{ name: 'docs', permissions: ['read', 'write'] }]);
    expect(JSON.parse(readFileSync(capture, 'utf8'))).toEqual({ version: 1, operation: 'list-resources', integration: 'wiki' });
  });

  it('refuses a malformed answer, naming the field and never the value', async () => {
    const command = script('list-bad.mjs', node(`process.stdin.resume(); process.stdin.on('end', () => console.log(JSON.stringify({ ok: true, resources: [{ name: '', permissions: ['read'] }, { name: 'hr', permissions: 'hunter2' }] })));`));
    const error = await failure(open(command).listResources());
    expect(error.message).toBe('integration "wiki": command provisioner list-resources failed: the command\'s answer does not fit the protocol (resources.0.name: too_small; resources.1.permissions: expected array)');
    expect(error.message).not.toContain('hunter2');
  });
});

describe('command provisioner failure modes', () => {
  const open = (command: string, connection: Record<string, string | number | boolean> = {}, env: NodeJS.ProcessEnv = { PATH: process.env.PATH }) =>
    new CommandProvisioner(integration({ command, ...connection }), env);

  it('turns a non-zero exit into an error with the start of stderr', async () => {
    const command = script('exit-3.mjs', node(`process.stderr.write('backend said no: quota exceeded\\n'); process.exit(3);`));
    const error = await failure(open(command).grant(grantFor(integration({ command }))));
    expect(error.message).toContain('integration "wiki"');
    expect(error.message).toContain('grant failed');
    expect(error.message).toContain('exited with code 3');
    expect(error.message).toContain('backend said no: quota exceeded');
  });

  it('quotes at most 500 characters of stderr', async () => {
    const command = script('noisy.mjs', node(`process.stderr.write('x'.repeat(5000)); process.exit(1);`));
    const error = await failure(open(command).revoke(revokeInput(grantFor(integration({ command })))));
    expect(error.message).toContain('x'.repeat(500));
    expect(error.message).not.toContain('x'.repeat(501));
  });

  it('kills a command that does not answer in time', async () => {
    // A shell that starts `sleep`: the grandchild holds stdout open after the kill.
    const command = script('slow.sh', '#!/bin/sh\nsleep 20\n');
    const started = Date.now();
    const error = await failure(open(command, { timeoutMs: 500 }).check(revokeInput(grantFor(integration({ command })))));
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(error.message).toContain('no answer within 500 ms');
    expect(error.message).toContain('killed');
    expect(error.operation).toBe('check');
  });

  it('rejects stdout that is not JSON without quoting it', async () => {
    const command = script('not-json.mjs', node(`process.stdout.write('password=hunter2-not-json');`));
    const error = await failure(open(command).grant(grantFor(integration({ command }))));
    expect(error.message).toContain('not a JSON document');
    expect(error.message).not.toContain('hunter2');
  });

  it('rejects an answer of the wrong shape without quoting it', async () => {
    const command = script('wrong-shape.mjs', node(`console.log(JSON.stringify({ ok: true, principal: 42, secrets: { password: 'hunter2-shape' } }));`));
    const error = await failure(open(command).grant(grantFor(integration({ command }))));
    expect(error.message).toContain('does not fit the protocol');
    expect(error.message).toContain('principal');
    expect(error.message).not.toContain('hunter2');

    const check = script('wrong-check.mjs', node(`console.log(JSON.stringify({ ok: true, present: 'yes' }));`));
    const checkError = await failure(open(check).check(revokeInput(grantFor(integration({ command: check })))));
    expect(checkError.message).toContain('present');
  });

  it('passes on ok:false with the message and retryable flag', async () => {
    const command = script('refuse.mjs', node(`console.log(JSON.stringify({ ok: false, error: 'the API is down', retryable: true }));`));
    const error = await failure(open(command).revoke(revokeInput(grantFor(integration({ command })))));
    expect(error.message).toBe('integration "wiki": command provisioner revoke failed: the command answered: the API is down');
    expect(error.retryable).toBe(true);
  });

  it('never puts a secret printed on stdout into the error of a failing command', async () => {
    const command = script('leaky.mjs', node(
      `console.log(JSON.stringify({ ok: true, principal: 'p', secrets: { password: 'S3CRET-leaked-value' } }));\n`
      + `process.stderr.write('something broke after printing\\n'); process.exit(2);`,
    ));
    const error = await failure(open(command).grant(grantFor(integration({ command }))));
    expect(error.message).toContain('exited with code 2');
    expect(error.message).toContain('something broke after printing');
    expect(error.message).not.toContain('S3CRET');
    expect(String(error.stack)).not.toContain('S3CRET');
  });

  it('rejects more than 1 MiB on stdout', async () => {
    const command = script('flood.mjs', node(`process.stdout.write('x'.repeat(2 * 1024 * 1024));`));
    const error = await failure(open(command).grant(grantFor(integration({ command }))));
    expect(error.message).toContain('more than 1048576 bytes');
  });

  it('names a command that cannot be started', async () => {
    const command = path.join(dir, 'does-not-exist');
    const error = await failure(open(command).grant(grantFor(integration({ command }))));
    expect(error.message).toContain(`cannot run ${command} (ENOENT)`);
  });

  it('gives the command PATH and the listed variables only', async () => {
    const command = script('env.mjs', node(
      `process.stdin.resume(); process.stdin.on('end', () => console.log(JSON.stringify({ ok: true, checks: Object.keys(process.env).sort().map((name) => ({ name, ok: true })) })));`,
    ));
    const env = { PATH: process.env.PATH, SLACK_BOT_TOKEN: 'xoxb-secret', LATCH_DATABASE_PASSWORD: 'pw', WIKI_TOKEN: 't' };
    const names = async (connection: Record<string, string>) => (await open(command, connection, env).checkHealth()).checks.map((check) => check.name).filter((name) => name !== 'resources');

    expect(await names({})).toEqual(['PATH']);
    expect(await names({ env: 'WIKI_TOKEN' })).toEqual(['PATH', 'WIKI_TOKEN']);
    expect(await names({ env: 'WIKI_TOKEN, SLACK_BOT_TOKEN' })).toEqual(['PATH', 'SLACK_BOT_TOKEN', 'WIKI_TOKEN']);
  });

  it('sends one JSON request on stdin', async () => {
    const capture = path.join(dir, 'request.json');
    const command = script('capture.mjs', node(
      `import { writeFileSync } from 'node:fs';\nlet text = ''; process.stdin.on('data', (c) => { text += c; });\n`
      + `process.stdin.on('end', () => { writeFileSync(${JSON.stringify(capture)}, text); console.log('{"ok":true}'); });`,
    ));
    const target = integration({ command });
    const input = grantFor(target, { permission: 'write', expiresAt: Date.parse('2030-05-06T07:08:09.000Z') });
    await open(command).extend(input);
    expect(JSON.parse(readFileSync(capture, 'utf8'))).toEqual({
      version: 1,
      operation: 'extend',
      integration: 'wiki',
      grant: {
        id: input.grantId,
        requestId: input.requestId,
        grantee: 'alice@example.com',
        principal: input.principal,
        resource: { name: 'docs', labels: ['prod'], settings: { space: 'ENG' } },
        permission: { name: 'write', settings: { group: 'writers' } },
        expiresAt: '2030-05-06T07:08:09.000Z',
      },
    });
  });

  it('reports a broken command as an unhealthy integration instead of throwing', async () => {
    const command = script('health-fail.mjs', node('process.exit(4);'));
    const health = await open(command).checkHealth();
    expect(health.ok).toBe(false);
    expect(health.checks[0]?.detail).toContain('exited with code 4');
  });

  it('checks the connection settings', () => {
    expect(() => open('')).toThrow(CommandSettingsError);
    expect(() => new CommandProvisioner(integration({}), {})).toThrow(/connection.command/);
    expect(() => open(EXAMPLE, { timeoutMs: -1 })).toThrow(/timeoutMs/);
    expect(() => open(EXAMPLE, { env: 'OK, not-a-name' })).toThrow(/not-a-name/);
    expect(open('scripts/example-provisioner.mjs').connection.command).toBe(path.resolve('scripts/example-provisioner.mjs'));
    expect(open(EXAMPLE).connection.timeoutMs).toBe(30_000);
  });
});
