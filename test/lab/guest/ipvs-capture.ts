/**
 * Captures raw IPVS netlink replies (inside a lab guest) for decoder unit
 * tests:
 *
 *   node dist/test/lab/guest/ipvs-capture.js OUT.json
 *
 * Writes { services: [hex...], dests: [[hex...] per service], info: hex,
 * config: hex } — every reply message verbatim, as the kernel sent it.
 * Without arguments it prints its usage and exits 0 (the test runner loads
 * every file under dist/test/).
 */
import * as fs from 'node:fs';
import { NETLINK_GENERIC } from '../../../core/netlink/constants';
import { NetlinkSocket } from '../../../core/netlink/socket';
import { IpvsClient } from '../../../core/ipvs/client';
import * as C from '../../../core/ipvs/constants';
import { decodeServiceMessage } from '../../../core/ipvs/decode';
import { buildDestDump, buildServiceDump, buildSimpleRequest } from '../../../core/ipvs/encode';

async function capture(out: string): Promise<void> {
  const client = await IpvsClient.open({ sockets: 1 });
  const familyId = client.familyId;
  client.close();
  const sock = NetlinkSocket.open(NETLINK_GENERIC);
  const hex = (buf: Buffer, off: number, len: number): string => buf.toString('hex', off, off + len);
  const services: string[] = [];
  const keys: ReturnType<typeof decodeServiceMessage>[] = [];
  await sock.dump(buildServiceDump(familyId), (buf, off, len) => {
    services.push(hex(buf, off, len));
    keys.push(decodeServiceMessage(buf, off, len));
  });
  const dests: string[][] = [];
  for (const k of keys) {
    const msgs: string[] = [];
    await sock.dump(buildDestDump(familyId, k), (buf, off, len) => msgs.push(hex(buf, off, len)));
    dests.push(msgs);
  }
  const info = (await sock.request(buildSimpleRequest(familyId, C.IPVS_CMD_GET_INFO)))[0].data.toString('hex');
  const config = (await sock.request(buildSimpleRequest(familyId, C.IPVS_CMD_GET_CONFIG)))[0].data.toString('hex');
  sock.close();
  fs.writeFileSync(out, JSON.stringify({ familyId, services, dests, info, config }, null, 1) + '\n');
}

const out = process.argv[2];
if (!out) {
  process.stdout.write('usage: ipvs-capture.js OUT.json (run inside a lab guest with IPVS)\n');
} else {
  capture(out).catch((e: unknown) => {
    process.stderr.write(`ipvs-capture: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  });
}
