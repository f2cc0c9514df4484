import type { RespondArguments, RespondFn } from '@slack/bolt';

/**
 * Posts to a response URL and reads Slack's (empty) answer to the end: a fetch response left
 * unread holds its connection until it is garbage-collected, so every click would open a new one.
 */
export async function answer(respond: RespondFn, message: RespondArguments): Promise<void> {
  const response = await respond(message);
  await response.arrayBuffer().catch(() => undefined);
}
