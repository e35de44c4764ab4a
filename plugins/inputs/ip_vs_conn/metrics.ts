/**
 * Metrics of one pass. Names and field sets are documented in README.md and
 * in measurements.ts (Prometheus HELP).
 */
import { FieldSchema, FieldType, Metric, TagSet } from '../../../core/metric';
import { formatAddress } from './addr';
import type { ConnCollector } from './collector';
import type { GroupTable } from './groups';
import { STATE_COUNT, STATE_FIELDS, STATE_NAMES, S_OTHER, statesOfProtocol } from './states';

export const M_CONN = 'ipvs_conn';
export const M_REUSE = 'ipvs_conn_reuse';
export const M_EVENT = 'ipvs_conn_reuse_event';
export const M_TABLE = 'ipvs_conn_table';

export interface PassInfo {
  time: bigint;
  /** `namespace` option, tagged when non-empty. */
  namespace: string;
  /** Value of net.ipv4.vs.conn_reuse_mode, undefined when unreadable. */
  connReuseMode: number | undefined;
  /** Emit ipvs_conn_reuse_event metrics. */
  events: boolean;
}

/**
 * A real server's tags as one frozen set, made once per group and kept in
 * the group table beside its tags: its metrics share the set pass after
 * pass, so the agent and the serializer work on it once.
 */
function tagSetOf(groups: GroupTable, g: number, namespace: string): TagSet {
  if (groups.tagSetNamespace !== namespace) {
    groups.tagSets = [];
    groups.tagSetNamespace = namespace;
  }
  let tags = groups.tagSets[g];
  if (tags === undefined) {
    const t = groups.tags[g];
    tags = new TagSet();
    tags.set('address', t.address);
    tags.set('port', t.port);
    tags.set('address_family', t.address_family);
    if (t.virtual_fwmark !== undefined) tags.set('virtual_fwmark', t.virtual_fwmark);
    else {
      tags.set('virtual_protocol', t.virtual_protocol!);
      tags.set('virtual_address', t.virtual_address!);
      tags.set('virtual_port', t.virtual_port!);
    }
    if (namespace !== '') tags.set('namespace', namespace);
    groups.tagSets[g] = tags.freeze();
  }
  return tags;
}

/**
 * Field schemas of ipvs_conn, one per protocol and per conn_reuse_mode
 * presence, made once: each metric carries only an array of values.
 */
const connSchemas = new Map<number, FieldSchema>();

function connSchema(proto: number, withMode: boolean): FieldSchema {
  const key = proto * 2 + (withMode ? 1 : 0);
  let schema = connSchemas.get(key);
  if (schema === undefined) {
    const keys = [...statesOfProtocol(proto).map((s) => STATE_FIELDS[s]), 'other', 'entries', 'templates'];
    if (withMode) keys.push('conn_reuse_mode');
    schema = new FieldSchema(keys, keys.map(() => FieldType.Int));
    connSchemas.set(key, schema);
  }
  return schema;
}

const REUSE_SCHEMA = new FieldSchema(['reused_connections', 'rescheduled_connections'], [FieldType.Int, FieldType.Int]);

export function stateName(code: number): string {
  return code < STATE_NAMES.length ? STATE_NAMES[code] : 'OTHER';
}

/** The pass's metrics as a list (tests, benchmarks). */
export function buildMetrics(c: ConnCollector, info: PassInfo): Metric[] {
  const out: Metric[] = [];
  emitGroupMetrics(c, info, (m) => out.push(m), 0, c.groups.count);
  emitTableMetrics(c, info, (m) => out.push(m));
  return out;
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Real servers whose metrics are made between two turns of the event loop. */
const GROUPS_PER_TURN = 2000;

/**
 * Hands the pass's metrics to `emit` as they are made, awaiting `ready` (the
 * accumulator's backpressure, at least a turn of the event loop) every
 * GROUPS_PER_TURN real servers: on a table of 100,000 the agent writes
 * earlier metrics out while later ones are made, so they die young and the
 * bytes waiting for a slow stdout stay few (instead of the whole gather).
 */
export async function emitMetrics(c: ConnCollector, info: PassInfo, emit: (m: Metric) => void, ready: () => Promise<void> = nextTurn): Promise<void> {
  const n = c.groups.count;
  for (let from = 0; from < n; from += GROUPS_PER_TURN) {
    if (from > 0) await ready();
    emitGroupMetrics(c, info, emit, from, Math.min(n, from + GROUPS_PER_TURN));
  }
  emitTableMetrics(c, info, emit);
}

function emitGroupMetrics(c: ConnCollector, info: PassInfo, emit: (m: Metric) => void, from: number, to: number): void {
  const groups = c.groups;
  // Every real server seen in the last `groupGrace` passes: one that drained
  // to zero entries shows zeros (that is news), then disappears.
  for (let g = from; g < to; g++) {
    if (!groups.isLive(g) || groups.included[g] === 0) continue;
    const tagSet = tagSetOf(groups, g, info.namespace);
    const proto = groups.proto[g];
    const states = statesOfProtocol(proto);
    const foreign = foreignStatesOf(proto);
    const counts = groups.counts;
    const base = g * STATE_COUNT;
    let entries = 0;
    for (let s = 0; s < STATE_COUNT; s++) entries += counts[base + s];
    let other = counts[base + S_OTHER];
    for (let i = 0; i < foreign.length; i++) other += counts[base + foreign[i]];
    const n = states.length;
    const values = new Array<number>(info.connReuseMode === undefined ? n + 3 : n + 4);
    for (let i = 0; i < n; i++) values[i] = counts[base + states[i]];
    values[n] = other;
    values[n + 1] = entries;
    values[n + 2] = groups.templates[g];
    if (info.connReuseMode !== undefined) values[n + 3] = info.connReuseMode;
    emit(new Metric(M_CONN, info.time, 'gauge', tagSet, connSchema(proto, info.connReuseMode !== undefined), values));
    if (groups.tags[g].virtual_fwmark === undefined) emit(new Metric(M_REUSE, info.time, 'counter', tagSet, REUSE_SCHEMA, [groups.reused[g], groups.rescheduled[g]]));
  }
}

function emitTableMetrics(c: ConnCollector, info: PassInfo, emit: (m: Metric) => void): void {
  const groups = c.groups;
  if (info.events) {
    let i = 0;
    for (const e of c.events) {
      // Distinct timestamps: events of one real server would otherwise overwrite each other in InfluxDB.
      const m = new Metric(M_EVENT, info.time + BigInt(i++), 'untyped', tagSetOf(groups, e.group, info.namespace));
      m.addString('kind', e.kind);
      m.addString('client_address', formatAddress(e.af, e.client));
      m.addInt('client_port', e.clientPort);
      m.addString('previous_state', stateName(e.previousState));
      m.addString('state', stateName(e.state));
      m.addInt('previous_expires', e.previousExpires);
      m.addInt('expires', e.expires);
      m.addFloat('elapsed', Number.isFinite(c.elapsed) ? Math.round(c.elapsed * 1000) / 1000 : 0);
      if (e.previousGroup !== e.group && groups.isLive(e.previousGroup)) {
        const p = groups.tags[e.previousGroup];
        m.addString('previous_address', p.address);
        m.addInt('previous_port', Number(p.port));
      }
      emit(m);
    }
  }
  const t = new Metric(M_TABLE, info.time, 'gauge');
  if (info.namespace !== '') t.setTag('namespace', info.namespace);
  t.addInt('rows', c.parser.rows);
  t.addInt('connections', c.connections);
  t.addInt('templates', c.templates);
  t.addInt('filtered_rows', c.filteredRows);
  t.addInt('malformed_lines', c.parser.malformed);
  t.addInt('tracked_connections', c.tracker.size);
  t.addInt('untracked_connections', c.untracked);
  t.addInt('tracker_bytes', c.tracker.bytes());
  t.addInt('reused_connections', c.reusedNow);
  t.addInt('rescheduled_connections', c.rescheduledNow);
  if (info.events) t.addInt('reuse_events_dropped', c.eventsDropped);
  if (info.connReuseMode !== undefined) t.addInt('conn_reuse_mode', info.connReuseMode);
  emit(t);
}

/**
 * States of other protocols (a TCP row printing an SCTP name, say): rows in
 * them count as `other`. One list per protocol, made once.
 */
const foreignStates = new Map<number, readonly number[]>();

function foreignStatesOf(proto: number): readonly number[] {
  let list = foreignStates.get(proto);
  if (list === undefined) {
    const own = statesOfProtocol(proto);
    list = [];
    for (let s = 0; s < S_OTHER; s++) if (!own.includes(s)) (list as number[]).push(s);
    foreignStates.set(proto, list);
  }
  return list;
}
