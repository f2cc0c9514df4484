import { describe, expect, it } from 'vitest';
import { helpText, parseCommand } from '../../bot/commands.js';

describe('the chat command grammar', () => {
  it('reads a fully typed request', () => {
    expect(parseCommand('request orders-prod READ for 1h30m because INC-42: orders stuck')).toEqual({
      kind: 'request', resource: 'orders-prod', permission: 'read', durationMs: 5_400_000, reason: 'INC-42: orders stuck',
    });
  });

  it('reads partial requests, bundles and integration-qualified resources', () => {
    expect(parseCommand('request')).toEqual({ kind: 'request' });
    expect(parseCommand('request orders/orders-prod')).toEqual({ kind: 'request', resource: 'orders/orders-prod' });
    expect(parseCommand('request bundle orders-incident for 2 h')).toEqual({ kind: 'request', bundle: 'orders-incident', durationMs: 7_200_000 });
    expect(parseCommand('request because the word for is in my reason')).toEqual({ kind: 'request', reason: 'the word for is in my reason' });
  });

  it('reads extend, revoke, cancel with ids people type loosely', () => {
    expect(parseCommand('extend ar-7k3m9qx2 by 30m because still digging')).toEqual({ kind: 'extend', id: 'AR-7K3M9QX2', durationMs: 1_800_000, reason: 'still digging' });
    expect(parseCommand('revoke AR-7K3M9QX2')).toEqual({ kind: 'revoke', id: 'AR-7K3M9QX2' });
    expect(parseCommand('cancel 7K3M9QX2')).toEqual({ kind: 'cancel', id: 'AR-7K3M9QX2' });
    expect(parseCommand('Credentials ar-7k3m9qx2')).toEqual({ kind: 'credentials', id: 'AR-7K3M9QX2' });
  });

  it('reads the simple words, and help for nothing at all', () => {
    expect(parseCommand('list')).toEqual({ kind: 'list' });
    expect(parseCommand('  APPROVALS ')).toEqual({ kind: 'approvals' });
    expect(parseCommand('')).toEqual({ kind: 'help' });
    expect(parseCommand('audit')).toEqual({ kind: 'audit', limit: 20 });
    expect(parseCommand('audit 5')).toEqual({ kind: 'audit', limit: 5 });
    expect(parseCommand('emergency orders-prod write for 30m because orders are stuck incident Q1W2E3')).toEqual({ kind: 'emergency', resource: 'orders-prod', permission: 'write', durationMs: 1_800_000, reason: 'orders are stuck', incident: 'Q1W2E3' });
    expect(parseCommand('emergency orders-prod because the incident channel says so')).toEqual({ kind: 'emergency', resource: 'orders-prod', reason: 'the incident channel says so' });
    expect(parseCommand('emergency bundle oncall-kit because INC-9')).toEqual({ kind: 'emergency', bundle: 'oncall-kit', reason: 'INC-9' });
  });

  const mistakes: [string, string][] = [
    ['request orders-prod read for ages', '"ages" is not a duration; write it like 30m, 2h or 1h30m.\nUsage: `/access request [resource] [permission] [at START] [for DURATION] [because REASON]`'],
    ['request orders-prod read now please', 'Too many words before "for"/"because": now please.\nUsage: `/access request [resource] [permission] [at START] [for DURATION] [because REASON]`'],
    ['request bundle', 'Name one bundle after `bundle`.\nUsage: `/access request [resource] [permission] [at START] [for DURATION] [because REASON]`'],
    ['emergency orders-prod write', 'Say why after `because`: emergency access is announced and reviewed with its reason.\nUsage: `/access emergency RESOURCE [PERMISSION] [for DURATION] because REASON [incident ID]`'],
    ['emergency orders-prod write because incident P123', 'Say why after `because`: emergency access is announced and reviewed with its reason.\nUsage: `/access emergency RESOURCE [PERMISSION] [for DURATION] because REASON [incident ID]`'],
    ['emergency orders-prod for ever because down', '"ever" is not a duration; write it like 30m or 1h.\nUsage: `/access emergency RESOURCE [PERMISSION] [for DURATION] because REASON [incident ID]`'],
    ['extend', 'Say which access to extend.\nUsage: `/access extend ID DURATION [because REASON]`'],
    ['extend AR-7K3M9QX2', 'Say how much longer you need.\nUsage: `/access extend ID DURATION [because REASON]`'],
    ['revoke everything', '"everything" is not a request id; ids look like AR-7K3M9QX2.\nUsage: `/access revoke ID [because REASON]`'],
    ['cancel AR-7K3M9QX2 now', 'Unexpected words after the id: now.\nUsage: `/access cancel ID`'],
    ['credentials', 'Say which access needs new credentials.\nUsage: `/access credentials ID`'],
    ['credentials my-db', '"my-db" is not a request id; ids look like AR-7K3M9QX2.\nUsage: `/access credentials ID`'],
    ['credentials AR-7K3M9QX2 please', 'Unexpected words after the id: please.\nUsage: `/access credentials ID`'],
    ['list all', '`list` takes no arguments.\nUsage: `/access list`'],
    ['audit 1000', 'The count must be a whole number from 1 to 100.\nUsage: `/access audit [COUNT]`'],
  ];
  for (const [text, message] of mistakes) {
    it(`explains "${text}" with the right usage`, () => {
      expect(parseCommand(text)).toEqual({ kind: 'invalid', message });
    });
  }

  it('names credentials in the help, for Slack and for the Teams bot', () => {
    expect(helpText('/access ')).toContain('• `/access credentials ID`  new credentials for your active access, by direct message');
    expect(helpText('')).toContain('• `credentials ID`  new credentials for your active access, by direct message');
  });

  it('lists every command for an unknown word', () => {
    const result = parseCommand('sudo request');
    expect(result.kind).toBe('invalid');
    expect(result.kind === 'invalid' ? result.message : '').toMatch(/^Unknown command "sudo"\.\nLatch understands:\n• `\/access request \[resource\]/);
  });
});
