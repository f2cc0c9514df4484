// SCIM 2.0 (RFC 7643/7644) at /scim/v2, as Microsoft Entra and Okta provision to it:
// Users and Groups, `filter=userName eq "..."` / `displayName eq "..."`, PATCH with
// add/replace/remove (Entra capitalises ops and sends "False" as a string; Okta sends
// `{ op: replace, value: { active: false } }` and `members[value eq "id"]` paths).
// A deactivation is a leaver at once.
import { randomUUID, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { SourceGroup, SourcePerson } from '../../core/identity.js';
import type { IdentitySnapshotStore } from '../../storage/identity-store.js';
import type { AuditInput } from '../../storage/store.js';

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const LIST = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
const ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';

export interface ScimDeps {
  source: string;
  token: string;
  store: IdentitySnapshotStore;
  now(): number;
  /** Applies what was written (the directory reloads) and offboards who was deactivated. */
  pushed(leavers: string[]): Promise<void>;
}

class ScimError extends Error {
  constructor(readonly status: number, message: string, readonly scimType?: string) {
    super(message);
  }
}

type Json = Record<string, unknown>;
const isRecord = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Entra sends booleans as "True"/"False" in PATCH values. */
function bool(value: unknown): boolean | null {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string' && /^(true|false)$/i.test(value)) return value.toLowerCase() === 'true';
  return null;
}

function userResource(person: SourcePerson, managerId: string | null): Json {
  return {
    schemas: [USER, ENTERPRISE], id: person.id, userName: person.login ?? person.email, active: person.active,
    ...(person.name ? { displayName: person.name } : {}),
    emails: [{ value: person.email, type: 'work', primary: true }],
    ...(managerId ? { [ENTERPRISE]: { manager: { value: managerId } } } : {}),
    meta: { resourceType: 'User', location: `/scim/v2/Users/${person.id}` },
  };
}

function groupResource(group: SourceGroup, withMembers: boolean): Json {
  return {
    schemas: [GROUP], id: group.id, displayName: group.name,
    ...(withMembers ? { members: group.members.map((value) => ({ value })) } : {}),
    meta: { resourceType: 'Group', location: `/scim/v2/Groups/${group.id}` },
  };
}

/** `attribute eq "value"`: the one filter Entra and Okta send. */
function parseFilter(filter: string | undefined, allowed: string[]): { attribute: string; value: string } | null {
  if (!filter) return null;
  const match = /^\s*([A-Za-z.]+)\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$/i.exec(filter);
  if (!match?.[1] || match[2] === undefined || !allowed.includes(match[1].toLowerCase())) {
    throw new ScimError(400, `filter "${filter}" is not supported; use ${allowed.map((name) => `${name} eq "..."`).join(' or ')}`, 'invalidFilter');
  }
  return { attribute: match[1].toLowerCase(), value: match[2].replace(/\\(.)/g, '$1') };
}

function emailOf(body: Json): string {
  const emails = Array.isArray(body.emails) ? body.emails.filter(isRecord) : [];
  const chosen = emails.find((email) => email.primary === true) ?? emails.find((email) => email.type === 'work') ?? emails[0];
  const value = typeof chosen?.value === 'string' ? chosen.value : typeof body.userName === 'string' ? body.userName : '';
  if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value)) throw new ScimError(400, 'a user needs an e-mail address (emails[primary] or an e-mail userName)', 'invalidValue');
  return value.toLowerCase();
}

function displayNameOf(body: Json): string | null {
  if (typeof body.displayName === 'string' && body.displayName) return body.displayName;
  const name = isRecord(body.name) ? body.name : null;
  const full = name ? [name.givenName, name.familyName].filter((part) => typeof part === 'string' && part).join(' ') : '';
  return full || null;
}

function managerIdOf(body: Json): string | null | undefined {
  const extension = isRecord(body[ENTERPRISE]) ? body[ENTERPRISE] : null;
  if (!extension || !('manager' in extension)) return undefined;
  const manager = extension.manager;
  if (typeof manager === 'string') return manager || null;
  return isRecord(manager) && typeof manager.value === 'string' ? manager.value || null : null;
}

export function registerScimRoutes(app: FastifyInstance, deps: ScimDeps): void {
  const expected = Buffer.from(`Bearer ${deps.token}`);
  const audit = (type: string, data: Json): AuditInput[] => [{ type, requestId: null, actor: `scim:${deps.source}`, at: deps.now(), data: { source: deps.source, ...data } }];

  const people = async (): Promise<SourcePerson[]> => (await deps.store.snapshots()).find((snapshot) => snapshot.source === deps.source)?.people.filter((person) => !person.deleted) ?? [];
  const groups = async (): Promise<SourceGroup[]> => (await deps.store.snapshots()).find((snapshot) => snapshot.source === deps.source)?.groups ?? [];
  /** The manager is kept as an e-mail (what approvals need); SCIM names them by id. */
  const managerEmail = async (id: string | null | undefined, fallback: string | null): Promise<string | null> => {
    if (id === undefined) return fallback;
    if (id === null) return null;
    return (await people()).find((person) => person.id === id)?.email ?? null;
  };
  const managerIdFor = async (person: SourcePerson): Promise<string | null> => (person.manager ? (await people()).find((other) => other.email === person.manager)?.id ?? null : null);
  const findPerson = async (id: string): Promise<SourcePerson> => {
    const person = (await people()).find((candidate) => candidate.id === id);
    if (!person) throw new ScimError(404, `no user ${id}`);
    return person;
  };
  const findGroup = async (id: string): Promise<SourceGroup> => {
    const group = (await groups()).find((candidate) => candidate.id === id);
    if (!group) throw new ScimError(404, `no group ${id}`);
    return group;
  };

  const savePerson = async (before: SourcePerson | null, next: SourcePerson): Promise<void> => {
    const deactivated = Boolean(before?.active) && !next.active;
    await deps.store.putPerson(deps.source, next, deps.now(), [
      ...audit(before ? 'identity.scim_user_updated' : 'identity.scim_user_created', { id: next.id, email: next.email, active: next.active }),
      ...(deactivated ? audit('identity.departed', { email: next.email, id: next.id, reason: next.deleted ? 'deleted' : 'disabled' }) : []),
    ]);
    await deps.pushed(deactivated ? [next.email] : []);
  };

  app.register(async (scim) => {
    scim.addContentTypeParser(['application/scim+json', 'application/json'], { parseAs: 'string' }, (_request, body, done) => {
      try {
        done(null, body === '' ? {} : JSON.parse(String(body)));
      } catch {
        done(new ScimError(400, 'the body is not JSON', 'invalidSyntax'), undefined);
      }
    });
    scim.addHook('onRequest', async (request: FastifyRequest) => {
      const given = Buffer.from(request.headers.authorization ?? '');
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new ScimError(401, 'a valid bearer token is required');
    });
    scim.setErrorHandler(async (error: Error & { statusCode?: number }, _request: FastifyRequest, reply: FastifyReply) => {
      const status = error instanceof ScimError ? error.status : error.statusCode ?? 500;
      return reply.code(status).type('application/scim+json').send({ schemas: [ERROR], status: String(status), ...(error instanceof ScimError && error.scimType ? { scimType: error.scimType } : {}), detail: status >= 500 ? 'internal error' : error.message });
    });
    const send = (reply: FastifyReply, status: number, body: Json): FastifyReply => reply.code(status).type('application/scim+json').send(body);
    const list = (resources: Json[]): Json => ({ schemas: [LIST], totalResults: resources.length, startIndex: 1, itemsPerPage: resources.length, Resources: resources });

    scim.get<{ Querystring: { filter?: string } }>('/Users', async (request, reply) => {
      const filter = parseFilter(request.query.filter, ['username', 'externalid', 'emails.value']);
      const all = await people();
      const matched = filter ? all.filter((person) => (person.login ?? person.email).toLowerCase() === filter.value.toLowerCase() || (filter.attribute !== 'username' && person.email === filter.value.toLowerCase())) : all;
      return send(reply, 200, list(await Promise.all(matched.map(async (person) => userResource(person, await managerIdFor(person))))));
    });
    scim.get<{ Params: { id: string } }>('/Users/:id', async (request, reply) => {
      const person = await findPerson(request.params.id);
      return send(reply, 200, userResource(person, await managerIdFor(person)));
    });
    scim.post<{ Body: Json }>('/Users', async (request, reply) => {
      const body = isRecord(request.body) ? request.body : {};
      const email = emailOf(body);
      const userName = typeof body.userName === 'string' ? body.userName : email;
      if ((await people()).some((person) => (person.login ?? person.email).toLowerCase() === userName.toLowerCase())) throw new ScimError(409, `user ${userName} exists already`, 'uniqueness');
      const person: SourcePerson = { id: randomUUID(), email, login: userName.toLowerCase() === email ? null : userName, name: displayNameOf(body), active: bool(body.active) ?? true, manager: await managerEmail(managerIdOf(body), null) };
      await savePerson(null, person);
      return send(reply, 201, userResource(person, await managerIdFor(person)));
    });
    scim.put<{ Params: { id: string }; Body: Json }>('/Users/:id', async (request, reply) => {
      const before = await findPerson(request.params.id);
      const body = isRecord(request.body) ? request.body : {};
      const email = emailOf(body);
      const userName = typeof body.userName === 'string' ? body.userName : email;
      const next: SourcePerson = { id: before.id, email, login: userName.toLowerCase() === email ? null : userName, name: displayNameOf(body), active: bool(body.active) ?? true, manager: await managerEmail(managerIdOf(body), before.manager) };
      await savePerson(before, next);
      return send(reply, 200, userResource(next, await managerIdFor(next)));
    });
    scim.patch<{ Params: { id: string }; Body: Json }>('/Users/:id', async (request, reply) => {
      const before = await findPerson(request.params.id);
      const next: SourcePerson = { ...before };
      for (const operation of operationsOf(request.body)) {
        const values: [string, unknown][] = operation.path ? [[operation.path, operation.value]] : isRecord(operation.value) ? Object.entries(operation.value) : [];
        for (const [path, value] of values) {
          const key = path.toLowerCase();
          if (key === 'active') {
            const active = bool(value);
            if (active === null) throw new ScimError(400, `active must be true or false, not ${JSON.stringify(value)}`, 'invalidValue');
            next.active = operation.op === 'remove' ? false : active;
          } else if (key === 'displayname') next.name = operation.op === 'remove' ? null : typeof value === 'string' ? value : next.name;
          else if (key === 'username' && typeof value === 'string') next.login = value.toLowerCase() === next.email ? null : value;
          else if (key.startsWith('emails') && typeof value === 'string' && /@/.test(value)) next.email = value.toLowerCase();
          else if (key.startsWith('emails') && Array.isArray(value)) next.email = emailOf({ emails: value });
          else if (key === `${ENTERPRISE}:manager`.toLowerCase() || key === 'manager') {
            next.manager = operation.op === 'remove' ? null : await managerEmail(typeof value === 'string' ? value : isRecord(value) && typeof value.value === 'string' ? value.value : null, null);
          } else if (key === ENTERPRISE.toLowerCase() && isRecord(value)) {
            next.manager = await managerEmail(managerIdOf({ [ENTERPRISE]: value }), next.manager);
          }
          // Other attributes (name parts, phone numbers, titles) do not matter to access.
        }
      }
      await savePerson(before, next);
      return send(reply, 200, userResource(next, await managerIdFor(next)));
    });
    scim.delete<{ Params: { id: string } }>('/Users/:id', async (request, reply) => {
      const before = await findPerson(request.params.id);
      await savePerson(before, { ...before, active: false, deleted: true });
      return reply.code(204).send();
    });

    scim.get<{ Querystring: { filter?: string; excludedAttributes?: string } }>('/Groups', async (request, reply) => {
      const filter = parseFilter(request.query.filter, ['displayname', 'externalid']);
      const all = await groups();
      const withMembers = !/members/i.test(request.query.excludedAttributes ?? '');
      const matched = filter ? all.filter((group) => group.name.toLowerCase() === filter.value.toLowerCase()) : all;
      return send(reply, 200, list(matched.map((group) => groupResource(group, withMembers))));
    });
    scim.get<{ Params: { id: string }; Querystring: { excludedAttributes?: string } }>('/Groups/:id', async (request, reply) => {
      return send(reply, 200, groupResource(await findGroup(request.params.id), !/members/i.test(request.query.excludedAttributes ?? '')));
    });
    scim.post<{ Body: Json }>('/Groups', async (request, reply) => {
      const body = isRecord(request.body) ? request.body : {};
      if (typeof body.displayName !== 'string' || !body.displayName) throw new ScimError(400, 'a group needs a displayName', 'invalidValue');
      if ((await groups()).some((group) => group.name.toLowerCase() === String(body.displayName).toLowerCase())) throw new ScimError(409, `group ${body.displayName} exists already`, 'uniqueness');
      const group: SourceGroup = { id: randomUUID(), name: body.displayName, members: memberIds(body.members) };
      await deps.store.putGroup(deps.source, group, deps.now(), audit('identity.scim_group_created', { id: group.id, name: group.name, members: group.members.length }));
      await deps.pushed([]);
      return send(reply, 201, groupResource(group, true));
    });
    scim.put<{ Params: { id: string }; Body: Json }>('/Groups/:id', async (request, reply) => {
      const before = await findGroup(request.params.id);
      const body = isRecord(request.body) ? request.body : {};
      const group: SourceGroup = { id: before.id, name: typeof body.displayName === 'string' && body.displayName ? body.displayName : before.name, members: memberIds(body.members) };
      await deps.store.putGroup(deps.source, group, deps.now(), audit('identity.scim_group_updated', { id: group.id, name: group.name, members: group.members.length }));
      await deps.pushed([]);
      return send(reply, 200, groupResource(group, true));
    });
    scim.patch<{ Params: { id: string }; Body: Json }>('/Groups/:id', async (request, reply) => {
      await findGroup(request.params.id);
      let patched: SourceGroup | null = null;
      for (const operation of operationsOf(request.body)) {
        const patch = groupPatch(operation);
        patched = await deps.store.patchGroup(deps.source, request.params.id, patch, deps.now(), audit('identity.scim_group_updated', { id: request.params.id, op: operation.op, added: patch.add, removed: patch.remove, ...(patch.name ? { name: patch.name } : {}) }));
      }
      await deps.pushed([]);
      // Entra and Okta accept 204 for a group PATCH; members are not echoed back.
      return patched ? reply.code(204).send() : send(reply, 200, groupResource(await findGroup(request.params.id), false));
    });
    scim.delete<{ Params: { id: string } }>('/Groups/:id', async (request, reply) => {
      if (!(await deps.store.deleteGroup(deps.source, request.params.id, deps.now(), audit('identity.scim_group_deleted', { id: request.params.id })))) throw new ScimError(404, `no group ${request.params.id}`);
      await deps.pushed([]);
      return reply.code(204).send();
    });
  }, { prefix: '/scim/v2' });
}

interface Operation {
  op: 'add' | 'replace' | 'remove';
  path: string | null;
  value: unknown;
}

function operationsOf(body: unknown): Operation[] {
  const operations = isRecord(body) && Array.isArray(body.Operations) ? body.Operations : null;
  if (!operations) throw new ScimError(400, 'a PATCH needs Operations (urn:ietf:params:scim:api:messages:2.0:PatchOp)', 'invalidSyntax');
  return operations.map((operation) => {
    const op = isRecord(operation) && typeof operation.op === 'string' ? operation.op.toLowerCase() : '';
    if (op !== 'add' && op !== 'replace' && op !== 'remove') throw new ScimError(400, `op must be add, replace or remove, not ${JSON.stringify(isRecord(operation) ? operation.op : operation)}`, 'invalidSyntax');
    const record = operation as Json;
    return { op, path: typeof record.path === 'string' && record.path ? record.path : null, value: record.value };
  });
}

function memberIds(value: unknown): string[] {
  const list = Array.isArray(value) ? value : value === undefined ? [] : [value];
  return list.flatMap((member) => (isRecord(member) && typeof member.value === 'string' ? [member.value] : typeof member === 'string' ? [member] : []));
}

/** One PATCH operation on a group, as the store applies it. */
function groupPatch(operation: Operation): { name?: string; add: string[]; remove: string[] | 'all' } {
  const path = operation.path;
  if (path === null) {
    // Okta: { op: replace, value: { id, displayName } }, or members inside the value.
    const value = isRecord(operation.value) ? operation.value : {};
    return {
      ...(typeof value.displayName === 'string' ? { name: value.displayName } : {}),
      add: 'members' in value ? memberIds(value.members) : [],
      remove: 'members' in value && operation.op === 'replace' ? 'all' : [],
    };
  }
  if (/^displayname$/i.test(path)) {
    if (typeof operation.value !== 'string') throw new ScimError(400, 'displayName must be a string', 'invalidValue');
    return { name: operation.value, add: [], remove: [] };
  }
  const filtered = /^members\[\s*value\s+eq\s+"([^"]+)"\s*\]$/i.exec(path);
  if (filtered?.[1]) {
    if (operation.op !== 'remove') throw new ScimError(400, `only remove takes a filtered members path`, 'invalidPath');
    return { add: [], remove: [filtered[1]] };
  }
  if (!/^members$/i.test(path)) throw new ScimError(400, `path ${path} is not supported on a group; use members or displayName`, 'invalidPath');
  const ids = memberIds(operation.value);
  if (operation.op === 'add') return { add: ids, remove: [] };
  if (operation.op === 'replace') return { add: ids, remove: 'all' };
  return { add: [], remove: operation.value === undefined ? 'all' : ids };
}
