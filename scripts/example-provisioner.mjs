#!/usr/bin/env node
// An example backend for Latch's `type: command` provisioner (docs/provisioners/command.md).
//
// Latch runs this file once per operation, writes one JSON request to stdin and reads one
// JSON answer from stdout. The "backend" here is a JSON file of accounts, so the example
// runs anywhere; a real script would call an API or a CLI at the marked places.
//
// State file: $EXAMPLE_PROVISIONER_STATE, default ./data/example-provisioner.json. (Latch gives
// the script only PATH and the variables listed in connection.env, so list
// EXAMPLE_PROVISIONER_STATE there when you set it.)
//
// Rules every provisioner script must follow:
//   - Exactly one JSON document on stdout. Diagnostics go to stderr, never secrets.
//   - Every operation is idempotent: Latch retries after crashes and timeouts.
//   - Revoking what is already gone is a success.
//   - Failures: print { "ok": false, "error": "...", "retryable": true|false } (exit 0), or exit
//     non-zero with a message on stderr.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

const STATE = resolve(process.env.EXAMPLE_PROVISIONER_STATE || './data/example-provisioner.json');

/** A failure the script reports as an answer, not a crash. */
class Refusal extends Error {
  constructor(message, retryable = false) {
    super(message);
    this.retryable = retryable;
  }
}

function readStdin() {
  return new Promise((done, fail) => {
    const chunks = [];
    process.stdin.on('data', (chunk) => chunks.push(chunk));
    process.stdin.on('end', () => done(Buffer.concat(chunks).toString('utf8')));
    process.stdin.on('error', fail);
  });
}

// ---- the "backend": { accounts: { [principal]: { ... } } } ---------------------------
// (Read-modify-write without a lock: fine for an example, not for concurrent operations.
// A real backend gets its consistency from the system it manages.)

function load() {
  try {
    return JSON.parse(readFileSync(STATE, 'utf8'));
  } catch (error) {
    if (error.code === 'ENOENT') return { accounts: {} };
    throw new Refusal(`cannot read the state file ${STATE}: ${error.message}`, true);
  }
}

function save(state) {
  mkdirSync(dirname(STATE), { recursive: true });
  const temporary = `${STATE}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  renameSync(temporary, STATE); // atomic: a crash leaves the old or the new state, never half
}

function newPassword() {
  return randomBytes(18).toString('base64url');
}

function requireGrant(request) {
  const grant = request.grant;
  if (!grant || typeof grant.principal !== 'string' || !/^[a-z0-9_]{1,63}$/.test(grant.principal)) {
    throw new Refusal('the request has no grant with a usable principal');
  }
  return grant;
}

// ---- operations ----------------------------------------------------------------------

/** Creates the account, or (granted already) gives it a new password: the old one may be lost. */
function grant(request) {
  const g = requireGrant(request);
  if (!g.expiresAt) throw new Refusal('grant needs expiresAt');
  const state = load();
  const password = newPassword();
  const existing = state.accounts[g.principal];
  state.accounts[g.principal] = {
    grantee: g.grantee,
    reference: g.id,
    resource: g.resource.name,
    permission: g.permission.name,
    expiresAt: g.expiresAt,
    // A real backend stores a hash or sets the password on the account; never keep it in clear.
    passwordSetAt: new Date().toISOString(),
    createdAt: existing?.createdAt ?? new Date().toISOString(),
  };
  save(state);
  return {
    principal: g.principal,
    secrets: { password },
    details: { username: g.principal, resource: g.resource.name, permission: g.permission.name },
  };
}

function revoke(request) {
  const g = requireGrant(request);
  const state = load();
  if (state.accounts[g.principal]) {
    delete state.accounts[g.principal];
    save(state);
  }
  return {}; // gone already is fine
}

function extend(request) {
  const g = requireGrant(request);
  if (!g.expiresAt) throw new Refusal('extend needs expiresAt');
  const state = load();
  const account = state.accounts[g.principal];
  if (!account) throw new Refusal(`${g.principal} does not exist; it cannot be extended`);
  account.expiresAt = g.expiresAt;
  save(state);
  return {};
}

function check(request) {
  const g = requireGrant(request);
  const account = load().accounts[g.principal];
  return { present: Boolean(account && account.permission === g.permission.name && account.resource === g.resource.name) };
}

function resetCredentials(request) {
  const g = requireGrant(request);
  const state = load();
  const account = state.accounts[g.principal];
  if (!account) throw new Refusal(`${g.principal} does not exist; there is nothing to reset`);
  account.passwordSetAt = new Date().toISOString();
  save(state);
  return { principal: g.principal, secrets: { password: newPassword() }, details: { username: g.principal } };
}

function listManaged() {
  const accounts = load().accounts;
  return {
    principals: Object.entries(accounts).map(([principal, account]) => ({
      principal,
      reference: account.reference ?? null,
      expiresAt: account.expiresAt ?? null,
    })),
  };
}

/**
 * What this backend offers. A real script asks its system (the spaces of a wiki, the
 * projects of a tracker); this one reads the optional "resources" of its state file:
 *   { "resources": { "docs": { "permissions": ["read", "write"], "description": "..." } } }
 * Without them it refuses: list-resources is optional, and a refusal tells Latch so.
 */
function listResources() {
  const catalogue = load().resources;
  if (!catalogue || typeof catalogue !== 'object') throw new Refusal(`the state file ${STATE} has no "resources" catalogue to list`);
  return {
    resources: Object.entries(catalogue).map(([name, entry]) => ({
      name,
      permissions: Array.isArray(entry?.permissions) ? entry.permissions.map(String) : [],
      ...(typeof entry?.description === 'string' ? { description: entry.description } : {}),
    })),
  };
}

function health() {
  const checks = [];
  try {
    const state = load();
    checks.push({ name: 'state-file', ok: true, detail: `${Object.keys(state.accounts).length} accounts in ${STATE}` });
  } catch (error) {
    checks.push({ name: 'state-file', ok: false, detail: error.message });
  }
  return { checks };
}

const OPERATIONS = {
  grant,
  revoke,
  extend,
  check,
  'reset-credentials': resetCredentials,
  'list-managed': listManaged,
  'list-resources': listResources,
  health,
};

// ---- main ----------------------------------------------------------------------------

function answer(document) {
  process.stdout.write(`${JSON.stringify(document)}\n`);
}

try {
  let request;
  try {
    request = JSON.parse(await readStdin());
  } catch {
    throw new Refusal('stdin is not a JSON request');
  }
  if (request.version !== 1) throw new Refusal(`protocol version ${request.version} is not supported (this script speaks 1)`);
  const operation = OPERATIONS[request.operation];
  if (!operation) throw new Refusal(`unknown operation ${request.operation}`);
  answer({ ok: true, ...operation(request) });
} catch (error) {
  if (error instanceof Refusal) {
    answer({ ok: false, error: error.message, retryable: error.retryable });
  } else {
    // Unexpected: a non-zero exit; Latch quotes the start of stderr in its error.
    process.stderr.write(`example-provisioner: ${error?.stack ?? error}\n`);
    process.exitCode = 1;
  }
}
