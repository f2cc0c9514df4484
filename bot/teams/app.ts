import { CloudAdapter, ConfigurationBotFrameworkAuthentication, type Activity, type ConfigurationBotFrameworkAuthenticationOptions, type InvokeResponse, type TurnContext } from 'botbuilder';
import type { FastifyInstance } from 'fastify';
import type { LatchContext, Logger } from '../../handlers/context.js';
import { TeamsBot } from './bot.js';
import { TeamsIdentities } from './identity.js';
import { TeamsNotifier } from './notifier.js';

export const TEAMS_MESSAGES_PATH = '/api/messages';

// botbuilder's own configuration keys, read from the environment as they are, so the identity
// endpoints can be pointed elsewhere (a sovereign cloud, or a local double in tests).
const BOTBUILDER_KEYS = [
  'ToBotFromChannelOpenIdMetadataUrl', 'ToBotFromChannelTokenIssuer', 'ToBotFromEmulatorOpenIdMetadataUrl', 'ToChannelFromBotLoginUrl',
  'ToChannelFromBotOAuthScope', 'ValidateAuthority', 'CallerId', 'OAuthUrl', 'ChannelService',
] as const;

export function teamsAuthConfig(env: NodeJS.ProcessEnv): ConfigurationBotFrameworkAuthenticationOptions {
  const config: Record<string, string> = {
    MicrosoftAppId: env.MICROSOFT_APP_ID ?? '',
    MicrosoftAppPassword: env.MICROSOFT_APP_PASSWORD ?? '',
    MicrosoftAppType: env.MICROSOFT_APP_TYPE ?? 'MultiTenant',
  };
  if (env.MICROSOFT_APP_TENANT_ID) config.MicrosoftAppTenantId = env.MICROSOFT_APP_TENANT_ID;
  for (const key of BOTBUILDER_KEYS) {
    const value = env[key];
    if (value !== undefined) config[key] = value;
  }
  return config as ConfigurationBotFrameworkAuthenticationOptions;
}

/** CloudAdapter with its authenticate-then-run entry point open to the fastify route. */
class LatchCloudAdapter extends CloudAdapter {
  handle(authorization: string, activity: Activity, logic: (context: TurnContext) => Promise<void>): Promise<InvokeResponse | undefined> {
    return this.processActivity(authorization, activity, logic);
  }
}

function isAuthenticationError(error: unknown): boolean {
  const candidate = error as { name?: string; statusCode?: number; constructor?: { name?: string } };
  return candidate.statusCode === 401 || candidate.name === 'AuthenticationError' || candidate.constructor?.name === 'AuthenticationError';
}

/**
 * The Teams adapter: botbuilder authenticates every activity (issuer, audience, signing
 * keys, service URL) before the bot sees it; the bot turns it into handler calls.
 */
export function createTeamsApp(options: { server: FastifyInstance; ctx: LatchContext; env: NodeJS.ProcessEnv; log: Logger; alertAdmins?: (text: string) => Promise<void> }): { notifier: TeamsNotifier; adapter: CloudAdapter } {
  const { ctx, log, env } = options;
  const appId = env.MICROSOFT_APP_ID ?? '';
  const adapter = new LatchCloudAdapter(new ConfigurationBotFrameworkAuthentication(teamsAuthConfig(env)));
  adapter.onTurnError = async (context, error) => {
    log.error({ err: error instanceof Error ? error.message : String(error), activity: context.activity.type }, 'Teams turn failed');
  };
  const people = new TeamsIdentities(ctx.store, log, () => ctx.now(), options.alertAdmins ? { alertAdmins: options.alertAdmins } : {});
  const notifier = new TeamsNotifier({
    adapter, appId, store: ctx.store, people, current: () => ctx.current(), now: () => ctx.now(), log,
    defaultServiceUrl: env.TEAMS_SERVICE_URL ?? 'https://smba.trafficmanager.net/teams/',
  });
  const bot = new TeamsBot(ctx, people, log, (record) => notifier.approverIds(record));

  options.server.post(TEAMS_MESSAGES_PATH, async (request, reply) => {
    const activity = request.body;
    if (!activity || typeof activity !== 'object') return reply.code(400).send({ error: 'expected a Bot Framework activity' });
    const header = request.headers.authorization ?? '';
    let turnStarted = false;
    try {
      const invokeResponse = await adapter.handle(header, activity as Activity, (context) => {
        turnStarted = true;
        return bot.onTurn(context);
      });
      return reply.code(invokeResponse?.status ?? 200).send(invokeResponse?.body ?? '');
    } catch (error) {
      // Whatever fails before the turn starts is the token (some key-lookup failures are plain Errors).
      if (!turnStarted || isAuthenticationError(error)) {
        log.warn({ err: error instanceof Error ? error.message : String(error) }, 'refused a Teams activity that failed authentication');
        return reply.code(401).send({ error: 'unauthorized' });
      }
      log.error({ err: error instanceof Error ? error.message : String(error) }, 'Teams activity failed');
      return reply.code(500).send({ error: 'internal error' });
    }
  });
  return { notifier, adapter };
}
