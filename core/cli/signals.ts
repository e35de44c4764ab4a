/**
 * Signal handling for every mode, installed before anything else runs.
 *
 * Node starts its inspector (a debugger that evaluates code, on
 * 127.0.0.1:9229) when a process without a SIGUSR1 listener receives SIGUSR1.
 * For an agent running as root that is a door any local user could walk
 * through, and operators (and Telegraf's execd `signal = "SIGUSR1"`) send
 * SIGUSR1 routinely. So this module is the first import of the CLI: it
 * listens for SIGUSR1, SIGUSR2 and SIGHUP at once (so none of them has its
 * default action), and closes the inspector should a signal have opened it
 * in the few milliseconds before this code ran.
 *
 * Until a mode claims a signal, SIGUSR1/SIGUSR2/SIGHUP are remembered and
 * replayed to the mode's handler (a gather in execd mode, a flush or a reload
 * in the agent); SIGINT/SIGTERM during start-up log and exit cleanly.
 */
import * as inspector from 'node:inspector';
import { exitAfterDrain } from '../stdout';

export type ControlSignal = 'SIGHUP' | 'SIGUSR1' | 'SIGUSR2';
export type StopSignal = 'SIGINT' | 'SIGTERM';
type AnySignal = ControlSignal | StopSignal;

const CONTROL: ControlSignal[] = ['SIGHUP', 'SIGUSR1', 'SIGUSR2'];
const STOP: StopSignal[] = ['SIGINT', 'SIGTERM'];

type Handler = (sig: AnySignal) => void;

const handlers = new Map<AnySignal, Handler>();
const early = new Set<ControlSignal>();
let installed = false;
function earlyStop(sig: StopSignal): void {
  process.stderr.write(`I! [agent] Received ${sig} during start-up, exiting\n`);
  void exitAfterDrain(0);
}

/** Closes Node's inspector if something opened it; true when it was open. */
export function closeInspector(): boolean {
  if (inspector.url() === undefined) return false;
  inspector.close();
  process.stderr.write('W! [agent] The Node.js inspector had been opened (SIGUSR1 during start-up?); closed it\n');
  return true;
}

function dispatch(sig: AnySignal): void {
  const h = handlers.get(sig);
  if (h) return h(sig);
  if (sig === 'SIGINT' || sig === 'SIGTERM') return earlyStop(sig);
  early.add(sig);
}

/** Installs the listeners (idempotent). Called by importing this module. */
export function installSignalGuard(): void {
  if (installed) return;
  installed = true;
  for (const sig of [...CONTROL, ...STOP]) process.on(sig, () => dispatch(sig));
  // A signal that arrived before these listeners may still be opening the inspector.
  closeInspector();
  setImmediate(closeInspector);
  setTimeout(closeInspector, 200).unref();
  setTimeout(closeInspector, 2000).unref();
}

/**
 * Routes `sig` to `fn` from now on (replacing the previous route). Control
 * signals received before any route existed are replayed to `fn` once.
 */
export function onSignal(sig: AnySignal, fn: Handler): void {
  handlers.set(sig, fn);
  if (sig !== 'SIGINT' && sig !== 'SIGTERM' && early.delete(sig)) setImmediate(() => fn(sig));
}


installSignalGuard();
