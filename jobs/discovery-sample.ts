import type { Integration, LatchConfig } from '../config/schema.js';
import { integrationsInScope } from '../handlers/discover.js';
import type { LatchContext } from '../handlers/context.js';
import { sampleMysqlSessions } from '../provisioners/discovery/mysql-scan.js';
import { samplePostgresSessions } from '../provisioners/discovery/postgres-scan.js';
import type { Job, NewJob } from '../storage/store.js';
import { errorText, type JobHandler, type JobOutcome } from './job-handler.js';

// Between scans, who is connected is sampled every discovery.sampleEvery, so "dormant"
// rests on many looks rather than on the moments someone happened to run a scan. One cheap
// query per database server; IAM keeps its own last-used dates and needs no sampling.

/** The next sample at the next multiple of sampleEvery (one per period across instances and restarts); none when off. */
export function discoverySampleJobs(config: LatchConfig, now: number): NewJob[] {
  const every = config.discovery.sampleEvery;
  if (every === undefined) return [];
  const runAt = (Math.floor(now / every) + 1) * every;
  return [{ kind: 'discovery_sample', requestId: null, runAt, dedupeKey: `discovery_sample:${runAt}` }];
}

export const runDiscoverySample: JobHandler = async (_job: Job, ctx: LatchContext): Promise<JobOutcome> => {
  const { config } = ctx.current();
  const records = ctx.store.discovery;
  if (config.discovery.sampleEvery === undefined || !records) return { status: 'done' };
  const now = ctx.now();
  let scope: Integration[];
  try {
    scope = integrationsInScope(config);
  } catch (error) {
    ctx.log.warn({ err: errorText(error) }, 'discovery sample: the config names an integration it cannot sample');
    return { status: 'done', change: { enqueue: discoverySampleJobs(config, now) } };
  }
  for (const integration of scope) {
    if (integration.type !== 'postgresql' && integration.type !== 'mysql') continue;
    try {
      // Backends read the server's own environment, as the provisioners do.
      const sessions = integration.type === 'postgresql' ? await samplePostgresSessions(integration, process.env) : await sampleMysqlSessions(integration, process.env);
      await records.recordSample(integration.name, now, sessions);
    } catch (error) {
      // A missed sample only makes the history coarser; the next one is a period away.
      ctx.log.warn({ integration: integration.name, err: errorText(error) }, 'discovery sample failed');
    }
  }
  return { status: 'done', change: { enqueue: discoverySampleJobs(config, now) } };
};
