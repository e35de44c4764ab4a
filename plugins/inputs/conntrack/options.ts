/** Options of inputs.conntrack, typed from schema.json, and their validation. */
import { parseDuration } from '../../../core/config/duration';
import { AF_INET, AF_INET6 } from '../../../core/conntrack/constants';
import { schemaDefaults, type SchemaOptions } from '../../../core/options';
import { DEFAULT_BUCKETS } from './histogram';
import schema from './schema.json';
import { parseSubnet } from './subnet';

export type ConntrackOptions = SchemaOptions<
  typeof schema,
  {
    collect: string[];
    dirs: string[];
    files: string[];
    namespace: string;
    stats_source: 'auto' | 'procfs' | 'netlink';
    collect_table: boolean;
    table_by_mark: boolean;
    table_mark_mask: number;
    table_subnets: string[];
    table_filter_family: '' | 'ipv4' | 'ipv6';
    table_filter_mark?: number;
    table_filter_mark_mask?: number;
    table_filter_zone?: number;
    collect_service_flows: boolean;
    service_subnets: string[];
    exclude_subnets: string[];
    only_dnat: boolean;
    duration_buckets?: number[];
    connect_latency_buckets?: number[];
    fin_latency_buckets?: number[];
    bytes_buckets?: number[];
    packets_buckets?: number[];
    histogram_reset: boolean;
    enable_accounting: boolean;
    enable_timestamps: boolean;
    load_module: boolean;
    event_buffer_size: number | string;
    max_flows: number;
    max_services: number;
    service_expiration: string | number;
  }
>;

export const DEFAULT_OPTIONS: ConntrackOptions = schemaDefaults(schema);

const { dirs: DEFAULT_DIRS, files: DEFAULT_FILES }: { dirs: readonly string[]; files: readonly string[] } = schemaDefaults<ConntrackOptions>(schema);

/** The sysctl directories and files to read: an empty list means the defaults, as Telegraf's setDefaults (conntrack.go 148-156). */
export function sysctlSources(o: Pick<ConntrackOptions, 'dirs' | 'files'>): { dirs: readonly string[]; files: readonly string[] } {
  return { dirs: o.dirs.length ? o.dirs : DEFAULT_DIRS, files: o.files.length ? o.files : DEFAULT_FILES };
}

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1e3, kb: 1e3, kib: 1024, m: 1e6, mb: 1e6, mib: 1024 ** 2, g: 1e9, gb: 1e9, gib: 1024 ** 3 };

/** `16MiB`, `8MB`, `4096` → bytes. */
export function parseSize(v: number | string): number {
  if (typeof v === 'number') return v;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(v);
  const unit = m ? SIZE_UNITS[m[2].toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new Error(`invalid size ${JSON.stringify(v)}`);
  return Math.round(Number(m[1]) * unit);
}

/** A namespace option as a path: names without `/` live under /var/run/netns. */
export function namespacePath(ns: string): string | undefined {
  if (ns === '') return undefined;
  return ns.includes('/') ? ns : `/var/run/netns/${ns}`;
}

export function familyNumber(f: string): number | undefined {
  return f === 'ipv4' ? AF_INET : f === 'ipv6' ? AF_INET6 : undefined;
}

export function bucketsOf(o: ConntrackOptions): { duration: number[]; connectLatency: number[]; finLatency: number[]; bytes: number[]; packets: number[] } {
  return {
    duration: o.duration_buckets ?? [...DEFAULT_BUCKETS.duration],
    connectLatency: o.connect_latency_buckets ?? [...DEFAULT_BUCKETS.connectLatency],
    finLatency: o.fin_latency_buckets ?? [...DEFAULT_BUCKETS.finLatency],
    bytes: o.bytes_buckets ?? [...DEFAULT_BUCKETS.bytes],
    packets: o.packets_buckets ?? [...DEFAULT_BUCKETS.packets],
  };
}

/** Throws an Error with a message naming the option for invalid settings. */
export function validate(o: ConntrackOptions): void {
  for (const c of o.collect) {
    if (c !== 'all' && c !== 'percpu') throw new Error(`config option 'collect': unknown choice ${c}`);
  }
  for (const [name, list] of [
    ['table_subnets', o.table_subnets],
    ['service_subnets', o.service_subnets],
    ['exclude_subnets', o.exclude_subnets],
  ] as const) {
    for (const s of list) {
      try {
        parseSubnet(s);
      } catch (err) {
        throw new Error(`config option '${name}': ${(err as Error).message}`);
      }
    }
  }
  if (o.collect_service_flows && o.service_subnets.length === 0) {
    throw new Error(`config option 'service_subnets': at least one CIDR is needed with collect_service_flows = true`);
  }
  if (o.table_filter_mark_mask !== undefined && o.table_filter_mark === undefined) {
    throw new Error(`config option 'table_filter_mark_mask' needs table_filter_mark`);
  }
  parseSize(o.event_buffer_size);
  try {
    if (parseDuration(o.service_expiration) < 0n) throw new Error('must not be negative');
  } catch (err) {
    throw new Error(`config option 'service_expiration': ${(err as Error).message}`);
  }
}
