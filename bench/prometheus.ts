/**
 * Prometheus exposition of 100,000 series (20,000 ipvs_virtual_server-like
 * metrics × 5 fields, 3 labels each): outputs.prometheus_client's store and
 * hand-written renderer beside prom-client (Gauges with label names, set(),
 * registry.metrics()) on the same data in the same run.
 * Figures: ingest (one batch update of every series) and render (one scrape
 * page), median of several rounds; heap held by each store.
 */
import { Registry, Gauge } from 'prom-client';
import { Collection } from '../plugins/outputs/prometheus_client/collection';
import { HelpIndex } from '../plugins/outputs/prometheus_client/help';
import { Metric, TagSet } from '../core/metric';

const SERVERS = 20_000;
const FIELDS = ['connections', 'cps', 'bytes_in', 'bytes_out', 'pkts_in'] as const;
const ROUNDS = 7;
const T0 = 1_700_000_000_000_000_000n;

function address(i: number): string {
  return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
}

/** Each server's tags as one frozen set, kept from round to round as the ipvs input keeps them. */
const serverTags = Array.from({ length: SERVERS }, (_, i) => TagSet.frozen(['address', 'port', 'protocol'], [address(i), String(80 + (i % 3)), 'tcp']));

function batch(round: number): Metric[] {
  const out = new Array<Metric>(SERVERS);
  for (let i = 0; i < SERVERS; i++) {
    const m = new Metric('ipvs_virtual_server', T0 + BigInt(round), 'untyped', serverTags[i]);
    m.addUint('connections', i * 3 + round);
    m.addUint('cps', (i + round) % 50);
    m.addUint('bytes_in', i * 1000 + round);
    m.addUint('bytes_out', i * 2000 + round);
    m.addUint('pkts_in', i + round);
    out[i] = m;
  }
  return out;
}

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s[s.length >> 1];
}

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

function ms(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

async function main(): Promise<void> {
  const batches = Array.from({ length: ROUNDS }, (_, r) => batch(r));
  // Reachable to the end, so heap differences measure only the stores.
  (globalThis as { keepBatches?: unknown }).keepBatches = batches;

  // ---- ours ----------------------------------------------------------------
  gc();
  const heap0 = process.memoryUsage().heapUsed;
  let coll: Collection | undefined = new Collection({
    stringAsLabel: true,
    exportTimestamp: false,
    expirationMs: 0,
    counterGlobs: [],
    gaugeGlobs: [],
    counterTotalSuffix: false,
    help: new HelpIndex([]),
  });
  const oursIngest: number[] = [];
  const oursRender: number[] = [];
  let oursBytes = 0;
  for (let r = 0; r < ROUNDS; r++) {
    let t = process.hrtime.bigint();
    coll!.add(batches[r]);
    oursIngest.push(ms(t));
    t = process.hrtime.bigint();
    const page = coll!.render();
    oursBytes = Buffer.byteLength(page);
    oursRender.push(ms(t));
  }
  gc();
  const oursHeap = process.memoryUsage().heapUsed - heap0;
  if (coll!.seriesCount !== SERVERS * FIELDS.length) throw new Error(`expected ${SERVERS * FIELDS.length} series, got ${coll!.seriesCount}`);
  coll = undefined; // release before measuring prom-client's heap

  // ---- prom-client ------------------------------------------------------------
  gc();
  const heap1 = process.memoryUsage().heapUsed;
  const registry = new Registry();
  const gauges = FIELDS.map((f) => new Gauge({ name: `ipvs_virtual_server_${f}`, help: 'Telegraf collected metric', labelNames: ['address', 'port', 'protocol'], registers: [registry] }));
  const promIngest: number[] = [];
  const promRender: number[] = [];
  let promBytes = 0;
  for (let r = 0; r < ROUNDS; r++) {
    let t = process.hrtime.bigint();
    for (const m of batches[r]) {
      // The same work the output would do: labels from tags, one set() per field.
      const labels = { address: m.tagValues[0], port: m.tagValues[1], protocol: m.tagValues[2] };
      for (let k = 0; k < m.fields.length; k++) gauges[k].set(labels, Number(m.fields[k].value));
    }
    promIngest.push(ms(t));
    t = process.hrtime.bigint();
    const page = await registry.metrics();
    promBytes = Buffer.byteLength(page);
    promRender.push(ms(t));
  }
  // Keep the store reachable through the measurement.
  (globalThis as { keepAlive?: unknown }).keepAlive = registry;
  gc();
  const promHeap = process.memoryUsage().heapUsed - heap1;

  const oi = median(oursIngest);
  const or = median(oursRender);
  const pi = median(promIngest);
  const pr = median(promRender);
  const series = SERVERS * FIELDS.length;
  console.log(`prometheus exposition, ${series} series (${SERVERS} metrics × ${FIELDS.length} fields, 3 labels), median of ${ROUNDS} rounds`);
  console.log(`  ingest one update of every series: ours ${oi.toFixed(1)} ms   prom-client ${pi.toFixed(1)} ms   ratio ${(pi / oi).toFixed(2)}× faster`);
  console.log(`  render one scrape page:            ours ${or.toFixed(1)} ms   prom-client ${pr.toFixed(1)} ms   ratio ${(pr / or).toFixed(2)}× faster`);
  console.log(`  page size:                          ours ${(oursBytes / 1e6).toFixed(2)} MB  prom-client ${(promBytes / 1e6).toFixed(2)} MB`);
  console.log(`  heap held by the store (approx.):   ours ${(oursHeap / 1e6).toFixed(1)} MB  prom-client ${(promHeap / 1e6).toFixed(1)} MB`);
  console.log(`  per series: ours ${((or * 1e6) / series).toFixed(0)} ns render, ${((oi * 1e6) / series).toFixed(0)} ns ingest`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
