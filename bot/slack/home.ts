import type { WebClient } from '@slack/web-api';
import { requestView } from '../../cards/request-view.js';
import { homeView } from '../../cards/slack/home.js';
import type { LatchContext } from '../../handlers/context.js';
import { listApprovals, listMine } from '../../handlers/queries.js';

/** The App Home tab: my access, my pending requests, and what waits for my decision. */
export class SlackHome {
  constructor(private readonly client: WebClient, private readonly ctx: LatchContext) {}

  async publish(userId: string, email: string): Promise<void> {
    const { ctx } = this;
    const actor = { email, via: 'slack' };
    const { config, directory } = ctx.current();
    const now = ctx.now();
    const [mine, approvals] = await Promise.all([listMine(ctx, actor), listApprovals(ctx, actor)]);
    const views = mine.filter((record) => record.request.kind === 'access').map((record) => requestView(record, config, directory, now));
    await this.client.views.publish({
      user_id: userId,
      view: homeView({
        active: views.filter((view) => view.state !== 'pending'),
        pending: views.filter((view) => view.state === 'pending'),
        approvals: approvals.map((record) => requestView(record, config, directory, now)),
      }),
    });
  }
}
