/**
 * `lvsagent config`: a complete sample configuration assembled from the
 * agent's own section and every plugin's sample section.
 */
import type { PluginRegistry } from '../registry';

const AGENT_SAMPLE = `# lvsagent configuration (Telegraf's TOML format).
#
# Environment variables can be used anywhere in string values: "\${VAR}",
# "\${VAR:-default}", "\${VAR:?error message}".

# Global tags added to every metric.
[global_tags]
  # dc = "us-east-1"

# Agent settings.
[agent]
  ## Default data collection interval for all inputs.
  interval = "10s"
  ## Align collection to multiples of the interval (e.g. :00, :10, :20).
  round_interval = true
  ## Maximum metrics per write to an output.
  metric_batch_size = 1000
  ## Maximum metrics buffered per output; the oldest are dropped beyond it.
  metric_buffer_limit = 10000
  ## Random delay [0, jitter) added to each collection.
  collection_jitter = "0s"
  ## Shift of each collection within its interval.
  collection_offset = "0s"
  ## Interval between writes to the outputs.
  flush_interval = "10s"
  ## Random delay [0, jitter) added to each flush.
  flush_jitter = "0s"
  ## Timestamp rounding; "0s" picks it from the interval (1s for intervals of 1s or more).
  precision = "0s"
  ## Log at debug level / errors only.
  debug = false
  quiet = false
  ## Log file; stderr when empty.
  logfile = ""
  ## Override the host name; omit the host tag entirely.
  hostname = ""
  omit_hostname = false
`;

function section(title: string, body: string): string {
  return `\n###############################################################################\n#${' '.repeat(Math.max(0, 38 - title.length / 2))}${title}\n###############################################################################\n\n${body.trimEnd()}\n`;
}

export function sampleConfig(registry: PluginRegistry, opts: { inputs?: string[]; outputs?: string[] } = {}): string {
  let out = AGENT_SAMPLE;
  const outputs = [...registry.outputs.values()].filter((p) => !opts.outputs || opts.outputs.includes(p.name));
  const inputs = [...registry.inputs.values()].filter((p) => !opts.inputs || opts.inputs.includes(p.name));
  out += section('OUTPUT PLUGINS', outputs.map((p) => p.sampleConfig.trimEnd()).join('\n\n'));
  out += section('INPUT PLUGINS', inputs.map((p) => p.sampleConfig.trimEnd()).join('\n\n'));
  return out;
}
