/**
 * One probe of one target: a TCP connect (`tcp`), or one HTTP/1.1 request on a
 * fresh connection (`http`, `https`), bounded by a single timer.
 *
 * The HTTP exchange is written by hand rather than through node:http: a probe
 * needs the status line only, and a bare socket keeps the cost per probe low
 * (no agent, no parser object) and gives one socket whose `close` event marks
 * when the probe's file descriptor is really gone, which is what the
 * concurrency bound counts. The request says `Connection: close` and the
 * response is read (up to a cap) until the server closes, so healthy servers
 * see an orderly exchange rather than a reset.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { classifyError, Phase, statusHealthy, type ProbeResult } from './classify';
import { connectTcp, type NetnsRunner } from './socket';

export type ProbeKind = 'tcp' | 'http' | 'https';

export interface ProbeSpec {
  kind: ProbeKind;
  timeoutMs: number;
  method: string;
  path: string;
  /** Extra request header lines, pre-rendered (`Name: value\r\n`...), without Host. */
  headerLines: string;
  /** Host header value; empty means `address:port` of the target. */
  hostHeader: string;
  body: Buffer;
  healthyStatuses: ReadonlySet<number>;
  tls: tls.ConnectionOptions;
  /** Stop reading a response body after this many bytes (the status is known by then). */
  maxResponseBytes: number;
  inNetns?: NetnsRunner;
  /** Probes are started with the thread already inside the namespace (round batches); check the fd only. */
  insideNetns?: boolean;
}

export interface ProbeOutcome {
  result: ProbeResult;
  /** HTTP status, 0 when none was received. */
  status: number;
  /** Seconds from the start of the probe to the decisive event (connect, status line, error, timeout). */
  seconds: number;
}

export type ProbeDone = (outcome: ProbeOutcome) => void;

const MAX_HEAD_BYTES = 16 * 1024;
/** How long after destroy() a probe waits for its socket's close event before giving up on it. */
const CLOSE_GRACE_MS = 1000;
const CRLFCRLF = Buffer.from('\r\n\r\n');

/** Starts a probe; `done` is called exactly once, after the probe's socket is closed. */
export function startProbe(spec: ProbeSpec, ip: string, port: number, done: ProbeDone): void {
  new Probe(spec, ip, port, done).run();
}

class Probe {
  private readonly started = performance.now();
  private phase = Phase.Connecting;
  private result: ProbeResult | undefined;
  private status = 0;
  private seconds = 0;
  private timer: NodeJS.Timeout | undefined;
  private raw: net.Socket | undefined;
  private outer: net.Socket | undefined;
  private head: Buffer | undefined;
  private received = 0;
  private finished = false;

  constructor(
    private readonly spec: ProbeSpec,
    private readonly ip: string,
    private readonly port: number,
    private readonly done: ProbeDone,
  ) {}

  run(): void {
    let raw: net.Socket;
    try {
      raw = connectTcp(this.ip, this.port, this.spec.inNetns, this.spec.insideNetns);
    } catch (err) {
      this.decide(classifyError(err, Phase.Connecting));
      this.finish();
      return;
    }
    this.raw = raw;
    this.outer = raw;
    this.timer = setTimeout(this.onTimeout, this.spec.timeoutMs);
    raw.on('error', this.onError);
    raw.on('close', this.onRawClose);
    raw.once('connect', this.onConnect);
  }

  private readonly onConnect = (): void => {
    const spec = this.spec;
    if (spec.kind === 'tcp') {
      this.decide('success');
      this.raw!.destroy();
      return;
    }
    if (spec.kind === 'https') {
      this.phase = Phase.Handshake;
      const options: tls.ConnectionOptions = { ...spec.tls, socket: this.raw };
      // The certificate is checked against the SNI name when given, else the IP.
      if (!options.servername) options.host = this.ip;
      let secure: tls.TLSSocket;
      try {
        secure = tls.connect(options);
      } catch {
        this.decide('tls_error');
        this.raw!.destroy();
        return;
      }
      this.outer = secure;
      secure.on('error', this.onError);
      secure.on('close', this.onOuterClose);
      secure.once('secureConnect', this.onReady);
      secure.on('data', this.onData);
      return;
    }
    this.raw!.on('data', this.onData);
    this.onReady();
  };

  private readonly onReady = (): void => {
    this.phase = Phase.Request;
    const spec = this.spec;
    const host = spec.hostHeader || (this.ip.includes(':') ? `[${this.ip}]:${this.port}` : `${this.ip}:${this.port}`);
    let head = `${spec.method} ${spec.path} HTTP/1.1\r\nHost: ${host}\r\n${spec.headerLines}Connection: close\r\n`;
    if (spec.body.length > 0 || spec.method === 'POST' || spec.method === 'PUT' || spec.method === 'PATCH') {
      head += `Content-Length: ${spec.body.length}\r\n`;
    }
    head += '\r\n';
    const out = this.outer!;
    if (spec.body.length > 0) {
      out.write(head);
      out.write(spec.body);
    } else {
      out.write(head);
    }
  };

  private readonly onData = (chunk: Buffer): void => {
    this.received += chunk.length;
    if (this.result === undefined) {
      this.head = this.head ? Buffer.concat([this.head, chunk]) : chunk;
      this.parseHead();
    }
    if (this.received > this.spec.maxResponseBytes) this.outer!.destroy();
  };

  /** Finds the final (non-1xx) status line in what has arrived so far. */
  private parseHead(): void {
    let buf = this.head!;
    for (;;) {
      const eol = buf.indexOf(10);
      if (eol < 0) {
        if (buf.length > MAX_HEAD_BYTES) this.malformed();
        return;
      }
      const line = buf.toString('latin1', 0, eol);
      const m = /^HTTP\/\d(?:\.\d)? (\d{3})(?:[ \r]|$)/.exec(line);
      if (!m) {
        this.malformed();
        return;
      }
      const status = Number(m[1]);
      if (status >= 200 || status < 100) {
        this.status = status;
        this.decide(statusHealthy(status, this.spec.healthyStatuses) ? 'success' : 'bad_status');
        this.head = undefined;
        return;
      }
      // Interim response (100 Continue, 103 Early Hints): skip its header block.
      const end = buf.indexOf(CRLFCRLF);
      if (end < 0) {
        if (buf.length > MAX_HEAD_BYTES) this.malformed();
        this.head = buf;
        return;
      }
      buf = buf.subarray(end + 4);
      this.head = buf;
      if (buf.length === 0) return;
    }
  }

  private malformed(): void {
    this.decide('connection_failed');
    this.outer!.destroy();
  }

  private readonly onError = (err: Error): void => {
    if (this.result === undefined) this.decide(classifyError(err, this.phase));
  };

  private readonly onTimeout = (): void => {
    if (this.result === undefined) this.decide('timeout');
    // After a decided result this only cuts a body that takes too long.
    this.outer!.destroy();
    this.raw!.destroy();
    // 'close' follows destroy(); should it ever not, do not hold the round.
    this.timer = setTimeout(this.forceFinish, CLOSE_GRACE_MS);
  };

  private readonly forceFinish = (): void => {
    this.timer = undefined;
    this.finish();
  };

  private readonly onRawClose = (): void => {
    // Over TLS the outer socket owns the descriptor; its close ends the probe.
    if (this.outer === this.raw) this.end();
  };

  private readonly onOuterClose = (): void => {
    this.raw!.destroy();
    this.end();
  };

  private end(): void {
    if (this.result === undefined) {
      // Closed before a status line: the server hung up on the request.
      this.decide(this.phase === Phase.Handshake ? 'tls_error' : this.phase === Phase.Connecting ? 'connection_failed' : 'connection_reset');
    }
    this.finish();
  }

  private decide(result: ProbeResult): void {
    this.result = result;
    this.seconds = (performance.now() - this.started) / 1000;
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.done({ result: this.result!, status: this.status, seconds: this.seconds });
  }
}
