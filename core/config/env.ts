/**
 * Environment-variable substitution as Telegraf does it in its (default)
 * strict mode: only inside TOML string values, after parsing. Forms:
 * `${VAR}`, `$VAR`, `${VAR:-default}` (unset or empty), `${VAR-default}`
 * (unset only), `${VAR:+alt}` (alt when set and not empty, else the value),
 * `${VAR+alt}` (alt when set, else empty), `${VAR:?msg}` / `${VAR?msg}` (error), and `$$` for a literal
 * `$`. Undefined variables in the plain forms are left as written.
 */

export class EnvSubstitutionError extends Error {}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

export function substituteEnv(text: string, env: NodeJS.ProcessEnv = process.env): string {
  if (text.indexOf('$') < 0) return text;
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c !== '$') {
      out += c;
      i++;
      continue;
    }
    const next = text[i + 1];
    if (next === '$') {
      out += '$';
      i += 2;
      continue;
    }
    if (next === '{') {
      const close = findClose(text, i + 2);
      if (close < 0) {
        // An invalid template is kept as written.
        out += text.slice(i);
        break;
      }
      out += expandBraced(text.slice(i + 2, close), text.slice(i, close + 1), env);
      i = close + 1;
      continue;
    }
    const m = NAME.exec(text.slice(i + 1));
    if (!m) {
      out += '$';
      i++;
      continue;
    }
    const value = env[m[0]];
    out += value === undefined ? '$' + m[0] : value;
    i += 1 + m[0].length;
  }
  return out;
}

function findClose(text: string, from: number): number {
  let depth = 1;
  for (let j = from; j < text.length; j++) {
    if (text[j] === '{') depth++;
    else if (text[j] === '}' && --depth === 0) return j;
  }
  return -1;
}

function expandBraced(inner: string, original: string, env: NodeJS.ProcessEnv): string {
  const m = NAME.exec(inner);
  if (!m) return original;
  const name = m[0];
  const rest = inner.slice(name.length);
  const value = env[name];
  if (rest === '') return value === undefined ? original : value;
  const op2 = rest.slice(0, 2);
  if (op2 === ':-') return value === undefined || value === '' ? substituteEnv(rest.slice(2), env) : value;
  if (op2 === ':?') {
    if (value === undefined || value === '') throw new EnvSubstitutionError(`${name}: ${rest.slice(2) || 'required variable is missing a value'}`);
    return value;
  }
  // compose-go v1.20.2 template.go 234-235 (Telegraf's templating): the alternative when set (and not empty), else the value itself.
  if (op2 === ':+') return value !== undefined && value !== '' ? substituteEnv(rest.slice(2), env) : value ?? '';
  const op1 = rest[0];
  if (op1 === '+') return value !== undefined ? substituteEnv(rest.slice(1), env) : '';
  if (op1 === '-') return value === undefined ? substituteEnv(rest.slice(1), env) : value;
  if (op1 === '?') {
    if (value === undefined) throw new EnvSubstitutionError(`${name}: ${rest.slice(1) || 'required variable is missing a value'}`);
    return value;
  }
  return original;
}

/** Applies substitution to every string inside a parsed TOML value (keys are left alone). */
export function substituteEnvDeep(value: unknown, env: NodeJS.ProcessEnv = process.env): unknown {
  if (typeof value === 'string') return substituteEnv(value, env);
  if (Array.isArray(value)) return value.map((v) => substituteEnvDeep(v, env));
  if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = substituteEnvDeep(v, env);
    return out;
  }
  return value;
}
