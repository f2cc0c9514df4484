// Who a role session belongs to, in the forms AWS accepts. CloudTrail shows the session name
// and SourceIdentity on every call made with the credentials, and SourceIdentity survives
// any role the person chains into afterwards, so "who did this" is never "latch".
// Everything here is derived from the grantee's e-mail (which Latch has verified) and
// Latch's own ids, never from text a person typed in chat.

import type { Tag } from '@aws-sdk/client-sts';

/** RoleSessionName and SourceIdentity: [\w+=,.@-], 2-64 characters. */
const SESSION_CHARS = /[^\w+=,.@-]/g;
/** Session tag values: letters, spaces, digits and _ . : / = + - @, at most 256. */
const TAG_VALUE_CHARS = /[^\p{L}\p{Z}\p{N}_.:/=+\-@]/gu;

/** Tag keys Latch puts on every session; revocation policies match on `latch-grant`. */
export const TAG_REQUESTER = 'latch-requester';
export const TAG_REQUEST = 'latch-request';
export const TAG_GRANT = 'latch-grant';

function fit(text: string, min: number, max: number): string {
  const cut = text.slice(0, max);
  return cut.length >= min ? cut : cut.padEnd(min, '-');
}

/** The RoleSessionName for a grantee: their e-mail with anything AWS refuses replaced by "-". */
export function roleSessionName(email: string): string {
  return fit(email.toLowerCase().replace(SESSION_CHARS, '-'), 2, 64);
}

/** SourceIdentity: the same alphabet; AWS reserves the prefix "aws:". */
export function sourceIdentity(email: string): string {
  const name = roleSessionName(email);
  return /^aws:/i.test(name) ? fit(`u-${name}`, 2, 64) : name;
}

export function tagValue(text: string): string {
  return text.replace(TAG_VALUE_CHARS, '-').slice(0, 256);
}

/** The session tags: who asked, for which request and grant. */
export function sessionTags(grantee: string, requestId: string, grantId: string): Tag[] {
  return [
    { Key: TAG_REQUESTER, Value: tagValue(grantee.toLowerCase()) },
    { Key: TAG_REQUEST, Value: tagValue(requestId) },
    { Key: TAG_GRANT, Value: tagValue(grantId) },
  ];
}
