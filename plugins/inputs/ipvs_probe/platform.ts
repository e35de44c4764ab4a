/**
 * The two things this input needs from the kernel layer: reading the IPVS
 * table and running code inside a network namespace. Both come from core/.
 */
import type { ServiceSource } from './discovery';
import type { NetnsRunner } from './socket';

/** IPVS table reader for a namespace ('' = the agent's own). */
export function ipvsServiceSource(namespace: string): ServiceSource {
  void namespace;
  return () => Promise.reject(new Error('IPVS discovery is not wired yet (core/ipvs client pending); use static targets'));
}

/** A runner that executes a function with the main thread inside `namespace`. */
export function namespaceRunner(namespace: string): NetnsRunner {
  throw new Error(`namespace ${JSON.stringify(namespace)}: namespace support is not wired yet (core/netlink withNetns pending)`);
}
