#!/usr/bin/env node
// A `type: command` backend for tests that takes its time: grant, revoke and extend each wait
// $SLOW_PROVISIONER_MS before answering, and every operation writes a start and an end line
// to the JSON-lines journal $SLOW_PROVISIONER_JOURNAL, so a test can see which operations
// were in flight when it interrupted Latch and how often each grant ran.
import { appendFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const request = JSON.parse(Buffer.concat(chunks).toString('utf8'));
const journal = process.env.SLOW_PROVISIONER_JOURNAL;

function note(phase) {
  if (!journal) return;
  appendFileSync(journal, `${JSON.stringify({ op: request.operation, grantId: request.grant?.id ?? null, phase, pid: process.pid, at: Date.now() })}\n`);
}

note('start');
if (['grant', 'revoke', 'extend'].includes(request.operation)) {
  await new Promise((resolve) => setTimeout(resolve, Number(process.env.SLOW_PROVISIONER_MS ?? 0)));
}
const issued = () => ({ principal: request.grant.principal, secrets: { password: randomBytes(18).toString('base64url') }, details: { username: request.grant.principal } });
const answers = {
  grant: issued,
  'reset-credentials': issued,
  revoke: () => ({}),
  extend: () => ({}),
  check: () => ({ present: true }),
  'list-managed': () => ({ principals: [] }),
  health: () => ({ checks: [{ name: 'slow-provisioner', ok: true }] }),
};
process.stdout.write(`${JSON.stringify({ ok: true, ...answers[request.operation]() })}\n`);
note('end');
