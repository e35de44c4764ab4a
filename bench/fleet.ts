/**
 * Figures for docs/deployment-fleet.md: what one node with a 10,000-service
 * IPVS table (10 real servers each) sends per interval through remote write.
 * Metrics are built by the ipvs input's own builders (as the agent emits
 * them, `host` tag included); series and samples are counted and the
 * requests encoded as outputs.http sends them (≤ 10,000 samples each).
 */
import { virtualServerMetric, realServerMetric, serviceSeries, serviceTags, type IpvsSeries } from '../plugins/inputs/ipvs/metrics';
import { SeriesCache } from '../core/series_cache';
import type { Metric } from '../core/metric';
import { RemoteWriteSerializer } from '../core/serializers/remote_write';
import { LineProtocolSerializer } from '../core/serializers/influx';
import { INTERVAL, T0, realServer, runningInput, stats, virtualService } from './_ipvs-metrics';

const SERVICES = 10_000;
const PER_SERVICE = 10;

const series: IpvsSeries = new SeriesCache();
const svc = Array.from({ length: SERVICES }, (_, s) => virtualService(s));
const tags = svc.map(serviceTags);

function interval(g: number): Metric[] {
  const out: Metric[] = [];
  const time = T0 + BigInt(g) * INTERVAL;
  for (let s = 0; s < SERVICES; s++) {
    const per = serviceSeries(series, tags[s]);
    out.push(runningInput.makeMetric(virtualServerMetric({ ...svc[s], stats: stats(s, g) }, tags[s], '', time, per))!);
    for (let r = 0; r < PER_SERVICE; r++) out.push(runningInput.makeMetric(realServerMetric(realServer(s * PER_SERVICE + r, g), tags[s], '', time, per))!);
  }
  series.sweep();
  return out;
}

const rw = new RemoteWriteSerializer({ maxSamplesPerRequest: 10_000 });
const lp = new LineProtocolSerializer();
rw.serializeBatch(interval(0)); // label sets are encoded once per series: measure the steady state
const ms = interval(1);
const reqs = rw.serializeBatch(ms);
const samples = reqs.reduce((a, r) => a + r.samples, 0);
const bytes = reqs.reduce((a, r) => a + r.body.length, 0);
const raw = rw.encodeUncompressed(ms).bytes.length;
const lpBytes = lp.serializeBatchToBuffer(ms).length;
const perVs = ms.filter((m) => m.name === 'ipvs_virtual_server').length;
console.log(`${SERVICES.toLocaleString('en-US')} services x ${PER_SERVICE} real servers: ${ms.length.toLocaleString('en-US')} metrics (${perVs} virtual server, ${ms.length - perVs} real server) per interval`);
console.log(`  series = samples per interval: ${samples.toLocaleString('en-US')} in ${reqs.length} requests`);
console.log(`  protobuf: ${(raw / 1e6).toFixed(1)} MB (${(raw / samples).toFixed(0)} B/sample); after snappy: ${(bytes / 1e6).toFixed(2)} MB (${(bytes / samples).toFixed(1)} B/sample)`);
console.log(`  line protocol, uncompressed: ${(lpBytes / 1e6).toFixed(1)} MB`);
