// Fakes of the identity providers' APIs on nock, answering with the shapes the real ones
// send (Graph's @odata.nextLink, Okta's Link headers), recording what Latch asked for.
import nock from 'nock';

export const ENTRA_AUTHORITY = 'https://login.latch-idp.example';
const PUBLIC_CLOUD = 'https://login.microsoftonline.com';
export const GRAPH = 'https://graph.microsoft.com';

/** Entra's token endpoint for a tenant (with MSAL's discovery), answering every client-credentials POST. */
export function fakeEntraLogin(tenant: string): { posts: URLSearchParams[] } {
  const posts: URLSearchParams[] = [];
  const base = `${ENTRA_AUTHORITY}/${tenant}`;
  nock(PUBLIC_CLOUD).persist().get('/common/discovery/instance').query(true)
    .reply(200, { tenant_discovery_endpoint: `${base}/v2.0/.well-known/openid-configuration`, 'api-version': '1.1', metadata: [] });
  nock(ENTRA_AUTHORITY).persist().get(`/${tenant}/v2.0/.well-known/openid-configuration`).reply(200, {
    token_endpoint: `${base}/oauth2/v2.0/token`, authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
    end_session_endpoint: `${base}/oauth2/v2.0/logout`, issuer: `${base}/v2.0`, jwks_uri: `${base}/discovery/v2.0/keys`,
  });
  nock(ENTRA_AUTHORITY).persist().post(`/${tenant}/oauth2/v2.0/token`).query(true).reply((_uri, body) => {
    posts.push(new URLSearchParams(String(body)));
    return [200, { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: 'graph-token-for-latch-0123456789' }];
  });
  return { posts };
}

export interface GraphUser {
  id: string;
  mail: string;
  displayName: string;
  accountEnabled: boolean;
  manager?: { id: string; mail: string };
}

export interface GraphCall {
  path: string;
  authorization: string | undefined;
}

/**
 * One read of the tenant: users in pages of `pageSize` with @odata.nextLink (the second
 * page answered 429 with Retry-After once first), and groups looked up by displayName with
 * their transitive user members in pages of two.
 */
export function fakeGraphRead(users: GraphUser[], groups: { id: string; displayName: string; members: string[] }[], options: { pageSize?: number; throttleSecondPage?: boolean } = {}): GraphCall[] {
  const calls: GraphCall[] = [];
  const pageSize = options.pageSize ?? 2;
  const record = (path: string, authorization: string | string[] | undefined): void => {
    calls.push({ path, authorization: Array.isArray(authorization) ? authorization[0] : authorization });
  };
  const pages = Math.max(1, Math.ceil(users.length / pageSize));
  for (let page = 0; page < pages; page += 1) {
    const slice = users.slice(page * pageSize, (page + 1) * pageSize).map((user) => ({
      id: user.id, displayName: user.displayName, mail: user.mail, userPrincipalName: user.mail, accountEnabled: user.accountEnabled,
      ...(user.manager ? { manager: { '@odata.type': '#microsoft.graph.user', id: user.manager.id, mail: user.manager.mail, userPrincipalName: user.manager.mail } } : {}),
    }));
    const next = page + 1 < pages ? `${GRAPH}/v1.0/users?$select=id,displayName,mail,userPrincipalName,accountEnabled&$expand=manager($select=id,mail,userPrincipalName)&$top=999&$skiptoken=page${page + 1}` : undefined;
    const scope = nock(GRAPH).get('/v1.0/users').query((query) => (page === 0 ? query.$skiptoken === undefined : query.$skiptoken === `page${page}`) && query.$select === 'id,displayName,mail,userPrincipalName,accountEnabled');
    if (page === 1 && options.throttleSecondPage) {
      scope.reply(function throttled() {
        record(`users page ${page} (throttled)`, this.req.headers.authorization);
        return [429, { error: { code: 'TooManyRequests', message: 'Too many requests' } }, { 'Retry-After': '1' }];
      });
      nock(GRAPH).get('/v1.0/users').query((query) => query.$skiptoken === `page${page}`).reply(function answered() {
        record(`users page ${page}`, this.req.headers.authorization);
        return [200, { '@odata.context': `${GRAPH}/v1.0/$metadata#users`, value: slice, ...(next ? { '@odata.nextLink': next } : {}) }];
      });
    } else {
      scope.reply(function answered() {
        record(`users page ${page}`, this.req.headers.authorization);
        return [200, { '@odata.context': `${GRAPH}/v1.0/$metadata#users`, value: slice, ...(next ? { '@odata.nextLink': next } : {}) }];
      });
    }
  }
  for (const group of groups) {
    nock(GRAPH).get('/v1.0/groups').query((query) => query.$filter === `displayName eq '${group.displayName}'`).reply(function found() {
      record(`groups ${group.displayName}`, this.req.headers.authorization);
      return [200, { value: [{ id: group.id, displayName: group.displayName }] }];
    });
    const memberPages = Math.max(1, Math.ceil(group.members.length / 2));
    for (let page = 0; page < memberPages; page += 1) {
      const next = page + 1 < memberPages ? `${GRAPH}/v1.0/groups/${group.id}/transitiveMembers/microsoft.graph.user?$select=id&$top=999&$skiptoken=m${page + 1}` : undefined;
      nock(GRAPH).get(`/v1.0/groups/${group.id}/transitiveMembers/microsoft.graph.user`).query((query) => (page === 0 ? query.$skiptoken === undefined : query.$skiptoken === `m${page}`)).reply(function members() {
        record(`members ${group.displayName} page ${page}`, this.req.headers.authorization);
        return [200, { value: group.members.slice(page * 2, page * 2 + 2).map((id) => ({ '@odata.type': '#microsoft.graph.user', id })), ...(next ? { '@odata.nextLink': next } : {}) }];
      });
    }
  }
  return calls;
}

export const OKTA = 'https://corp-latch.okta.example';

export interface OktaUser {
  id: string;
  status: 'ACTIVE' | 'SUSPENDED' | 'DEPROVISIONED' | 'LOCKED_OUT' | 'PASSWORD_EXPIRED' | 'STAGED';
  login: string;
  managerId?: string;
}

/** One read of an Okta org: users in pages linked with `Link: <...>; rel="next"` (a 429 once on page two), groups by search, members paged. */
export function fakeOktaRead(users: OktaUser[], groups: { id: string; name: string; members: string[] }[], options: { pageSize?: number; throttleSecondPage?: boolean } = {}): { path: string; authorization: string | undefined }[] {
  const calls: { path: string; authorization: string | undefined }[] = [];
  const pageSize = options.pageSize ?? 2;
  const pages = Math.max(1, Math.ceil(users.length / pageSize));
  const header = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value[0] : value);
  for (let page = 0; page < pages; page += 1) {
    const slice = users.slice(page * pageSize, (page + 1) * pageSize).map((user) => ({
      id: user.id, status: user.status, created: '2025-01-01T00:00:00.000Z',
      profile: { login: user.login, email: user.login, firstName: user.login.split('@')[0], lastName: 'Test', ...(user.managerId ? { managerId: user.managerId } : {}) },
      _links: { self: { href: `${OKTA}/api/v1/users/${user.id}` } },
    }));
    const self = `<${OKTA}/api/v1/users?limit=200${page ? `&after=${page}` : ''}>; rel="self"`;
    const link = page + 1 < pages ? `${self}, <${OKTA}/api/v1/users?after=${page + 1}&limit=200>; rel="next"` : self;
    const matches = (query: Record<string, unknown>): boolean => (page === 0 ? query.after === undefined : query.after === String(page));
    if (page === 1 && options.throttleSecondPage) {
      nock(OKTA).get('/api/v1/users').query(matches).reply(function throttled() {
        calls.push({ path: `users page ${page} (throttled)`, authorization: header(this.req.headers.authorization) });
        return [429, { errorCode: 'E0000047', errorSummary: 'API call exceeded rate limit due to too many requests.' }, { 'X-Rate-Limit-Reset': '0', 'Retry-After': '1' }];
      });
    }
    nock(OKTA).get('/api/v1/users').query(matches).reply(function answered() {
      calls.push({ path: `users page ${page}`, authorization: header(this.req.headers.authorization) });
      return [200, slice, { Link: link }];
    });
  }
  for (const group of groups) {
    nock(OKTA).get('/api/v1/groups').query((query) => query.search === `profile.name eq "${group.name}"`).reply(function found() {
      calls.push({ path: `groups ${group.name}`, authorization: header(this.req.headers.authorization) });
      return [200, [{ id: group.id, type: 'OKTA_GROUP', profile: { name: group.name, description: null } }], { Link: `<${OKTA}/api/v1/groups>; rel="self"` }];
    });
    const memberPages = Math.max(1, Math.ceil(group.members.length / 2));
    for (let page = 0; page < memberPages; page += 1) {
      const link = page + 1 < memberPages ? `<${OKTA}/api/v1/groups/${group.id}/users?after=m${page + 1}&limit=200>; rel="next"` : `<${OKTA}/api/v1/groups/${group.id}/users>; rel="self"`;
      nock(OKTA).get(`/api/v1/groups/${group.id}/users`).query((query) => (page === 0 ? query.after === undefined : query.after === `m${page}`)).reply(function members() {
        calls.push({ path: `members ${group.name} page ${page}`, authorization: header(this.req.headers.authorization) });
        return [200, group.members.slice(page * 2, page * 2 + 2).map((id) => ({ id, status: 'ACTIVE', profile: {} })), { Link: link }];
      });
    }
  }
  return calls;
}
