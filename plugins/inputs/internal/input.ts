/**
 * The gather of inputs.internal: a snapshot of the agent's self statistics
 * (core/selfstat) as Telegraf's internal_* measurements, the agent totals,
 * and the process's memory when collect_memstats is on.
 */
import { int } from '../../../core/metric';
import type { Accumulator, Input } from '../../../core/plugin';
import { selfStats } from '../../../core/selfstat';
import { nodeVersion, version } from '../../../core/version';
import type { InternalOptions } from './options';

const AGENT_FIELDS = ['gather_errors', 'gather_timeouts', 'metrics_dropped', 'metrics_gathered', 'metrics_rejected', 'metrics_written', 'write_errors'];

export class InternalInput implements Input {
  constructor(private readonly opts: InternalOptions) {}

  gather(acc: Accumulator): void {
    const groups = selfStats.snapshot();
    const agentFields: Record<string, ReturnType<typeof int>> = {};
    for (const f of AGENT_FIELDS) agentFields[f] = int(0);
    for (const g of groups) {
      if (g.measurement === 'internal_agent') {
        for (const [k, v] of Object.entries(g.fields)) agentFields[k] = int(v);
        continue;
      }
      const fields: Record<string, ReturnType<typeof int>> = {};
      for (const [k, v] of Object.entries(g.fields)) fields[k] = int(v);
      if (g.measurement === 'internal_gather') {
        fields.gather_errors = int(g.fields.errors ?? 0);
      }
      acc.addFields(g.measurement, fields, { ...g.tags, version });
    }
    // metrics_gathered is counted per input; the agent total is their sum.
    agentFields.metrics_gathered = int(selfStats.sum('internal_gather', 'metrics_gathered'));
    acc.addFields('internal_agent', agentFields, { version, go_version: nodeVersion });
    if (this.opts.collect_memstats) {
      const m = process.memoryUsage();
      acc.addFields('internal_memstats', {
        alloc_bytes: int(m.heapUsed),
        heap_alloc_bytes: int(m.heapUsed),
        heap_in_use_bytes: int(m.heapUsed),
        heap_sys_bytes: int(m.heapTotal),
        heap_idle_bytes: int(Math.max(0, m.heapTotal - m.heapUsed)),
        sys_bytes: int(m.rss),
        rss_bytes: int(m.rss),
        external_bytes: int(m.external),
        array_buffers_bytes: int(m.arrayBuffers),
      });
    }
  }
}
