/**
 * Glob matching with gobwas/glob's syntax as Telegraf uses it: `*` (any run of
 * characters not containing a separator), `?` (one character), `[abc]`,
 * `[a-z]`, `[!abc]`, `{alt1,alt2}` and `\` escapes. A list without any of
 * `*?[` is matched exactly (Telegraf's fast path; `{` is then literal too).
 */

export class GlobError extends Error {}

export interface Matcher {
  match(s: string): boolean;
}

function escapeRe(c: string): string {
  return /[\\^$.*+?()[\]{}|/-]/.test(c) ? '\\' + c : c;
}

function compileToRegex(pattern: string, separators: string): string {
  const notSep = separators ? `[^${[...separators].map(escapeRe).join('')}]` : '[\\s\\S]';
  let re = '';
  let i = 0;
  let braceDepth = 0;
  while (i < pattern.length) {
    const c = pattern[i];
    switch (c) {
      case '\\':
        if (i + 1 >= pattern.length) throw new GlobError(`invalid glob "${pattern}": trailing escape`);
        re += escapeRe(pattern[i + 1]);
        i += 2;
        continue;
      case '*':
        // `**` is a super-asterisk in gobwas/glob: it crosses separators.
        if (pattern[i + 1] === '*') {
          re += '[\\s\\S]*';
          i += 2;
        } else {
          re += notSep + '*';
          i++;
        }
        continue;
      case '?':
        re += notSep;
        i++;
        continue;
      case '[': {
        const close = pattern.indexOf(']', i + 2);
        if (close < 0) throw new GlobError(`invalid glob "${pattern}": unclosed "["`);
        let body = pattern.slice(i + 1, close);
        let neg = false;
        if (body[0] === '!') {
          neg = true;
          body = body.slice(1);
        }
        if (body === '') throw new GlobError(`invalid glob "${pattern}": empty character class`);
        const cls = body.replace(/[\\\]^]/g, (m) => '\\' + m);
        re += `[${neg ? '^' : ''}${cls}]`;
        i = close + 1;
        continue;
      }
      case '{':
        braceDepth++;
        re += '(?:';
        i++;
        continue;
      case '}':
        if (braceDepth === 0) throw new GlobError(`invalid glob "${pattern}": unexpected "}"`);
        braceDepth--;
        re += ')';
        i++;
        continue;
      case ',':
        re += braceDepth > 0 ? '|' : ',';
        i++;
        continue;
      default:
        re += escapeRe(c);
        i++;
    }
  }
  if (braceDepth !== 0) throw new GlobError(`invalid glob "${pattern}": unclosed "{"`);
  return re;
}

class ExactSet implements Matcher {
  private readonly set: Set<string>;
  constructor(items: string[]) {
    this.set = new Set(items);
  }
  match(s: string): boolean {
    return this.set.has(s);
  }
}

class RegexMatcher implements Matcher {
  constructor(private readonly re: RegExp) {}
  match(s: string): boolean {
    return this.re.test(s);
  }
}

class NeverMatcher implements Matcher {
  match(): boolean {
    return false;
  }
}

/** Compiles a glob list into one matcher (Telegraf's filter.Compile). Throws GlobError. */
export function compileGlobs(patterns: readonly string[], separators = ''): Matcher {
  if (patterns.length === 0) return new NeverMatcher();
  if (!patterns.some((p) => /[*?[]/.test(p))) return new ExactSet([...patterns]);
  const parts = patterns.map((p) => compileToRegex(p, separators));
  return new RegexMatcher(new RegExp(`^(?:${parts.join('|')})$`));
}

/** One pattern, always as a glob (also when it has only `{a,b}`, which a list would match literally). Throws GlobError. */
export function compileGlob(pattern: string): Matcher {
  return new RegexMatcher(new RegExp(`^(?:${compileToRegex(pattern, '')})$`));
}

/** Validates a glob without keeping it; returns an error text or undefined. */
export function globError(pattern: string): string | undefined {
  try {
    compileToRegex(pattern, '');
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}
