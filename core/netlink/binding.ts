/**
 * Typed loader of the native addon `build/Release/lvsagent_netlink.node`
 * (source: native/netlink.c, built by node-gyp during `npm install`).
 *
 * The addon is found by walking up from this file's directory (works from
 * `dist/core/netlink/` and from the source tree); `LVSAGENT_NETLINK_ADDON` may
 * name the file explicitly. Loading is lazy: `loadBinding()` throws a clear
 * Error (code 'ERR_NETLINK_ADDON') when the addon was not built, so modules that
 * import the netlink layer still load on machines without a compiler.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** One AF_NETLINK socket (see native/netlink.c for the exact semantics). */
export interface NativeHandle {
  bind(pid: number, groups: number): void;
  portId(): number;
  /** -1 once closed. */
  fd(): number;
  setInt(level: number, option: number, value: number): void;
  getInt(level: number, option: number): number;
  addMembership(group: number): void;
  dropMembership(group: number): void;
  send(buf: Buffer, offset: number, length: number): number;
  /** Bytes received (the full datagram size: > length means truncated), or -1 when nothing is queued. */
  recv(buf: Buffer, offset: number, length: number): number;
  /** Batch receive on every readable wakeup: datagram i lands in buffers[i], its size in lengths[i]. */
  pollStart(
    buffers: Buffer[],
    lengths: Uint32Array,
    onBatch: (count: number) => void,
    onError: (err: Error) => void,
  ): void;
  /** One-shot readability notification. */
  pollOnce(onReadable: () => void): void;
  pollStop(): void;
  ref(): void;
  unref(): void;
  close(): void;
}

export interface NativeBinding {
  NetlinkHandle: new (protocol: number) => NativeHandle;
  withNetns<T>(path: string, fn: () => T): T;
}

const ADDON_NAME = 'lvsagent_netlink.node';
let cached: NativeBinding | undefined;

function findAddon(): string | undefined {
  const explicit = process.env.LVSAGENT_NETLINK_ADDON;
  if (explicit) return explicit;
  let dir = __dirname;
  for (let i = 0; i < 8; i++) {
    for (const flavour of ['Release', 'Debug']) {
      const candidate = path.join(dir, 'build', flavour, ADDON_NAME);
      if (fs.existsSync(candidate)) return candidate;
    }
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return undefined;
}

/** Loads (once) and returns the native binding. */
export function loadBinding(): NativeBinding {
  if (cached) return cached;
  const file = findAddon();
  if (!file) {
    const err = new Error(
      `netlink addon ${ADDON_NAME} not found (build it with "npx node-gyp rebuild"; needs g++, make, python3 and Node headers)`,
    ) as Error & { code: string };
    err.code = 'ERR_NETLINK_ADDON';
    throw err;
  }
  // A native addon can only be loaded through require.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  cached = require(file) as NativeBinding;
  return cached;
}
