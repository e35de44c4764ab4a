/**
 * A strict line-protocol parser for test servers (independent of the
 * serializer under test): escapes per element, typed field values, optional
 * timestamp. Throws LineProtocolError naming the reason.
 */

export type ParsedValue = { type: 'float'; value: number } | { type: 'int' | 'uint'; value: bigint } | { type: 'string'; value: string } | { type: 'bool'; value: boolean };

export interface ParsedPoint {
  measurement: string;
  tags: Record<string, string>;
  fields: Record<string, ParsedValue>;
  time?: bigint;
}

export class LineProtocolError extends Error {}

/** Reads an escaped token up to one of `stops` (unescaped); returns [text, index of stop]. */
function token(line: string, pos: number, stops: string, escapable: string): [string, number] {
  let out = '';
  let i = pos;
  while (i < line.length) {
    const c = line[i];
    if (c === '\\' && i + 1 < line.length && escapable.includes(line[i + 1])) {
      out += line[i + 1];
      i += 2;
      continue;
    }
    if (stops.includes(c)) break;
    out += c;
    i++;
  }
  return [out, i];
}

function parseValue(raw: string): ParsedValue {
  if (raw === '') throw new LineProtocolError('missing field value');
  if (raw.startsWith('"')) throw new LineProtocolError('internal: string handled elsewhere');
  if (/^(t|T|true|True|TRUE)$/.test(raw)) return { type: 'bool', value: true };
  if (/^(f|F|false|False|FALSE)$/.test(raw)) return { type: 'bool', value: false };
  if (/^-?\d+i$/.test(raw)) {
    const v = BigInt(raw.slice(0, -1));
    if (v > 9223372036854775807n || v < -9223372036854775808n) throw new LineProtocolError(`integer out of range: ${raw}`);
    return { type: 'int', value: v };
  }
  if (/^\d+u$/.test(raw)) {
    const v = BigInt(raw.slice(0, -1));
    if (v > 18446744073709551615n) throw new LineProtocolError(`unsigned out of range: ${raw}`);
    return { type: 'uint', value: v };
  }
  if (/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(raw)) return { type: 'float', value: Number(raw) };
  throw new LineProtocolError(`invalid field value ${raw}`);
}

export function parseLine(line: string): ParsedPoint {
  let i = 0;
  const [measurement, mEnd] = token(line, 0, ', ', ', \\');
  if (measurement === '') throw new LineProtocolError('missing measurement');
  i = mEnd;
  const tags: Record<string, string> = {};
  while (line[i] === ',') {
    const [k, kEnd] = token(line, i + 1, '=, ', ',= \\');
    if (line[kEnd] !== '=') throw new LineProtocolError('missing tag value');
    const [v, vEnd] = token(line, kEnd + 1, ', ', ',= \\');
    if (k === '' || v === '') throw new LineProtocolError('empty tag key or value');
    tags[k] = v;
    i = vEnd;
  }
  if (line[i] !== ' ') throw new LineProtocolError('missing fields');
  i++;
  const fields: Record<string, ParsedValue> = {};
  for (;;) {
    const [k, kEnd] = token(line, i, '=, ', ',= \\');
    if (line[kEnd] !== '=' || k === '') throw new LineProtocolError('invalid field format');
    i = kEnd + 1;
    if (line[i] === '"') {
      let s = '';
      i++;
      for (;;) {
        if (i >= line.length) throw new LineProtocolError('unbalanced quotes');
        const c = line[i];
        if (c === '\\' && (line[i + 1] === '"' || line[i + 1] === '\\')) {
          s += line[i + 1];
          i += 2;
          continue;
        }
        if (c === '"') {
          i++;
          break;
        }
        s += c;
        i++;
      }
      fields[k] = { type: 'string', value: s };
    } else {
      let j = i;
      while (j < line.length && line[j] !== ',' && line[j] !== ' ') j++;
      fields[k] = parseValue(line.slice(i, j));
      i = j;
    }
    if (line[i] === ',') {
      i++;
      continue;
    }
    break;
  }
  let time: bigint | undefined;
  if (line[i] === ' ') {
    const rest = line.slice(i + 1);
    if (!/^-?\d+$/.test(rest)) throw new LineProtocolError(`bad timestamp ${JSON.stringify(rest)}`);
    time = BigInt(rest);
  } else if (i !== line.length) throw new LineProtocolError('unexpected trailing characters');
  return { measurement, tags, fields, time };
}

/** Parses a body of newline-separated lines (blank lines and `#` comments skipped); reports the 1-based bad line. */
export function parseBody(body: string): ParsedPoint[] {
  const out: ParsedPoint[] = [];
  // Newlines inside string fields stay raw in line protocol, so split only where a line can end.
  const lines = splitLines(body);
  lines.forEach((line, n) => {
    if (line.trim() === '' || line.startsWith('#')) return;
    try {
      out.push(parseLine(line));
    } catch (err) {
      const e = new LineProtocolError(`unable to parse '${line}': ${(err as Error).message}`);
      (e as LineProtocolError & { line?: number }).line = n + 1;
      throw e;
    }
  });
  return out;
}

/** Splits at newlines that are outside double-quoted field values. */
function splitLines(body: string): string[] {
  const lines: string[] = [];
  let start = 0;
  let inString = false;
  let inFields = false;
  let spaces = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (c === '\n' && !inString) {
      lines.push(body.slice(start, i));
      start = i + 1;
      inFields = false;
      spaces = 0;
      continue;
    }
    if (c === ' ' && !inString) {
      spaces++;
      inFields = spaces === 1;
    }
    if (c === '"' && inFields) inString = !inString;
  }
  if (start < body.length) lines.push(body.slice(start));
  return lines;
}
