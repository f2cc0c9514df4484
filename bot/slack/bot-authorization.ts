// Who the bot is, asked of Slack once. Bolt's single-token mode with token verification off
// (so that Latch starts without reaching Slack) runs auth.test before every event it is
// handed, which put a Slack round trip, and a place in the Web API client's queue, in front
// of every acknowledgement. This asks when the first event arrives and keeps the answer; an
// ask that failed is asked again by the next event.
import type { Authorize } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';

export function cachedBotAuthorization(client: WebClient, botToken: string): Authorize<boolean> {
  let bot: Promise<{ botUserId: string | undefined; botId: string | undefined }> | null = null;
  return async () => {
    bot ??= client.auth.test({ token: botToken }).then(
      (answer) => ({ botUserId: answer.user_id, botId: answer.bot_id }),
      (error: unknown) => {
        bot = null;
        throw error;
      },
    );
    return { botToken, ...(await bot) };
  };
}
