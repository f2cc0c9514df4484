import { describe, expect, it } from 'vitest';
import { formatConfigErrors, parseConfig } from '../../config/parse.js';

const lineOf = (text: string, needle: string): number => text.split('\n').findIndex((line) => line.includes(needle)) + 1;

describe('auditSinks in the config file', () => {
  it('reads every kind of sink with its defaults; secrets are only the names of environment variables', () => {
    const text = `version: 1
auditSinks:
  - { name: archive, type: jsonl, path: /var/log/latch/audit.jsonl }
  - name: soc
    type: webhook
    url: https://siem.example.com/latch
    secret: { env: LATCH_AUDIT_WEBHOOK_SECRET }
  - { name: rsyslog, type: syslog, host: syslog.example.com, port: 6514, tls: { ca: /etc/latch/syslog-ca.pem } }
  - { name: splunk, type: splunk-hec, url: "https://splunk.example.com:8088", token: { env: SPLUNK_HEC_TOKEN } }
`;
    const parsed = parseConfig(text, 'latch.yaml');
    if (!parsed.ok) throw new Error(formatConfigErrors(parsed.errors));
    expect(parsed.config.auditSinks).toEqual([
      { name: 'archive', type: 'jsonl', path: '/var/log/latch/audit.jsonl', from: 'now', alertAfter: 300_000 },
      { name: 'soc', type: 'webhook', url: 'https://siem.example.com/latch', secret: { env: 'LATCH_AUDIT_WEBHOOK_SECRET' }, from: 'now', alertAfter: 300_000, timeout: 10_000 },
      { name: 'rsyslog', type: 'syslog', host: 'syslog.example.com', port: 6514, tls: { ca: '/etc/latch/syslog-ca.pem' }, facility: 'auth', appName: 'latch', from: 'now', alertAfter: 300_000, timeout: 10_000 },
      { name: 'splunk', type: 'splunk-hec', url: 'https://splunk.example.com:8088/', token: { env: 'SPLUNK_HEC_TOKEN' }, source: 'latch', sourcetype: 'latch:audit', batchSize: 100, from: 'now', alertAfter: 300_000, timeout: 10_000 },
    ]);
    expect(parseConfig('version: 1\n', 'latch.yaml')).toMatchObject({ ok: true, config: { auditSinks: [] } });
  });

  it('names the line of each mistake: an unknown type, plain http to another host, a literal secret, a bad facility, a name used twice', () => {
    const text = `version: 1
auditSinks:
  - { name: a, type: kafka, path: x }
  - name: b
    type: webhook
    url: http://siem.example.com/latch
    secret: { value: hunter2hunter2 }
  - { name: c, type: syslog, host: h, port: 514, facility: local9 }
  - { name: d, type: splunk-hec, url: "https://user:pw@splunk.example.com", token: { env: SPLUNK_HEC_TOKEN } }
  - { name: e, type: syslog, host: h, port: 70000, tls: { ca: /ca.pem, verify: false } }
`;
    const parsed = parseConfig(text, 'latch.yaml');
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    const report = formatConfigErrors(parsed.errors).split('\n');
    expect(report).toEqual([
      `latch.yaml:${lineOf(text, 'kafka')}:16 auditSinks[0].type: type must be one of jsonl, webhook, syslog, splunk-hec`,
      `latch.yaml:${lineOf(text, 'http://siem')}:5 auditSinks[1].url: must be an https:// URL (plain http:// only to a loopback address: 127.0.0.0/8, ::1 or localhost), not http://siem.example.com`,
      `latch.yaml:${lineOf(text, 'hunter2')}:5 auditSinks[1].secret.env: is required`,
      `latch.yaml:${lineOf(text, 'hunter2')}:15 auditSinks[1].secret.value: unknown key "value"`,
      expect.stringMatching(new RegExp(`^latch\\.yaml:${lineOf(text, 'local9')}:\\d+ auditSinks\\[2\\]\\.facility: use one of kern, user, `)),
      `latch.yaml:${lineOf(text, 'user:pw')}:34 auditSinks[3].url: must not hold a user name or password; name the secret with { env: VARIABLE }`,
      `latch.yaml:${lineOf(text, '70000')}:39 auditSinks[4].port: Too big: expected number to be <=65535`,
      `latch.yaml:${lineOf(text, '70000')}:72 auditSinks[4].tls.verify: unknown key "verify"`,
    ]);

    const twice = 'version: 1\nauditSinks:\n  - { name: a, type: jsonl, path: stdout }\n  - { name: a, type: jsonl, path: /tmp/a.jsonl }\n';
    const duplicate = parseConfig(twice, 'latch.yaml');
    expect(duplicate.ok ? [] : formatConfigErrors(duplicate.errors).split('\n')).toEqual(['latch.yaml:4:5 auditSinks[1]: audit sink "a" is declared twice']);
  });
});
