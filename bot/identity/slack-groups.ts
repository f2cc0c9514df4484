// Slack user groups through the Slack Web API (SLACK_API_URL, the bot token): so a config
// group can name `slack:@db-oncall`. Members are Slack user ids, turned into e-mails with
// users.list. Slack does not speak for accounts: a person missing here is not a leaver.
import type { SourceGroup, SourcePerson, SourceSnapshot } from '../../core/identity.js';
import { callSource, isRecord, itemsOf, SourceError, stringOf, type CallOptions } from './http.js';
import type { SourceReader } from './reader.js';

export function slackGroupsReader(name: string, env: NodeJS.ProcessEnv, options: Pick<CallOptions, 'sleep'> = {}): SourceReader {
  const label = `identity source ${name} (Slack user groups)`;
  const base = (env.SLACK_API_URL ?? 'https://slack.com/api/').replace(/\/?$/, '/');

  async function call(method: string, params: Record<string, string>): Promise<Record<string, unknown>> {
    const token = env.SLACK_BOT_TOKEN;
    if (!token) throw new SourceError(`${label}: SLACK_BOT_TOKEN is not set`);
    const { body } = await callSource(label, `${base}${method}`, { method: 'POST', headers: { Authorization: `Bearer ${token}` }, form: params, ...options });
    if (!isRecord(body) || body.ok !== true) throw new SourceError(`${label}: ${method} answered ${isRecord(body) ? String(body.error ?? 'not ok') : 'no JSON'}`);
    return body;
  }

  return {
    async read(handles: readonly string[]): Promise<SourceSnapshot> {
      const people: SourcePerson[] = [];
      let cursor = '';
      do {
        const page = await call('users.list', { limit: '200', ...(cursor ? { cursor } : {}) });
        for (const user of itemsOf(label, page, 'members')) {
          const id = stringOf(user.id);
          const profile = isRecord(user.profile) ? user.profile : {};
          const email = stringOf(profile.email);
          if (!id || !email || user.is_bot === true) continue;
          people.push({ id, email: email.toLowerCase(), name: stringOf(profile.real_name), active: user.deleted !== true, manager: null });
        }
        cursor = isRecord(page.response_metadata) ? stringOf(page.response_metadata.next_cursor) ?? '' : '';
      } while (cursor);
      const wanted = new Set(handles.map((handle) => handle.replace(/^@/, '').toLowerCase()));
      const listed = wanted.size === 0 ? [] : itemsOf(label, await call('usergroups.list', {}), 'usergroups');
      const groups: SourceGroup[] = [];
      for (const group of listed) {
        const id = stringOf(group.id);
        const handle = stringOf(group.handle);
        if (!id || !handle || !wanted.has(handle.toLowerCase())) continue;
        const members = await call('usergroups.users.list', { usergroup: id });
        const users = Array.isArray(members.users) ? members.users.filter((user): user is string => typeof user === 'string') : null;
        if (!users) throw new SourceError(`${label}: usergroups.users.list answered without users`);
        groups.push({ id, name: `@${handle}`, members: users });
      }
      return { people, groups, authoritative: false };
    },
  };
}
