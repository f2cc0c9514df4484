import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { USAGE } from '../../bot/commands.js';

function pngSize(path: string): [number, number] {
  const bytes = readFileSync(path);
  expect(bytes.subarray(1, 4).toString()).toBe('PNG');
  return [bytes.readUInt32BE(16), bytes.readUInt32BE(20)];
}

describe('the app manifests', () => {
  it('installs the Slack app with one URL for commands, interactivity and events, and only the scopes it uses', () => {
    const manifest = parse(readFileSync('manifest.slack.yml', 'utf8')) as {
      features: { slash_commands: { command: string; url: string }[]; app_home: { home_tab_enabled: boolean } };
      oauth_config: { scopes: { bot: string[] } };
      settings: { event_subscriptions: { request_url: string; bot_events: string[] }; interactivity: { is_enabled: boolean; request_url: string } };
    };
    const command = manifest.features.slash_commands[0];
    expect(command?.command).toBe('/access');
    const urls = [command?.url, manifest.settings.interactivity.request_url, manifest.settings.event_subscriptions.request_url];
    for (const url of urls) expect(new URL(url ?? '').pathname).toBe('/slack/events');
    expect(manifest.settings.interactivity.is_enabled).toBe(true);
    expect(manifest.features.app_home.home_tab_enabled).toBe(true);
    expect(manifest.settings.event_subscriptions.bot_events).toEqual(['app_home_opened', 'user_change']);
    expect(manifest.oauth_config.scopes.bot.sort()).toEqual(['chat:write', 'commands', 'im:write', 'users:read', 'users:read.email']);
  });

  it('packages the Teams app: bot in every scope, the same commands as Slack, icons of the right size', () => {
    const manifest = JSON.parse(readFileSync('manifest.teams.json', 'utf8')) as {
      manifestVersion: string; id: string; icons: { color: string; outline: string }; validDomains: string[];
      bots: { botId: string; scopes: string[]; commandLists: { commands: { title: string }[] }[] }[];
    };
    expect(manifest.manifestVersion).toBe('1.17');
    const bot = manifest.bots[0];
    expect(bot?.botId).toBe(manifest.id);
    expect(bot?.scopes.sort()).toEqual(['groupChat', 'personal', 'team']);
    const commands = bot?.commandLists[0]?.commands.map((command) => command.title);
    // Teams suggests at most 10 commands per list; the admins' discover is typed, not suggested.
    expect(commands).toEqual(Object.keys(USAGE).filter((command) => command !== 'discover'));
    expect(commands!.length).toBeLessThanOrEqual(10);
    expect(pngSize(`teams-app/${manifest.icons.color}`)).toEqual([192, 192]);
    expect(pngSize(`teams-app/${manifest.icons.outline}`)).toEqual([32, 32]);
    expect(manifest.validDomains).toEqual(['latch.example.com']);
  });
});
