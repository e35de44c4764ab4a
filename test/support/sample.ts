/**
 * Checks a plugin's sample.conf: the section as shipped, and with every
 * commented `# key = value` line (and commented sub-table header) enabled —
 * the first occurrence of a key wins where the sample shows alternatives —
 * must parse as TOML and pass the plugin's schema.
 */
import TOML from '@iarna/toml';
import { makeAjv } from '../../core/config/schema';
import type { JsonSchema } from '../../core/plugin';

export function uncommentSample(sample: string): string {
  const seen = new Set<string>();
  let table = '';
  const out: string[] = [];
  for (const line of sample.split('\n')) {
    const header = /^\s*#?\s*(\[\[?[^\]]+\]\]?)\s*$/.exec(line);
    if (header) {
      table = header[1];
      out.push('  ' + header[1]);
      continue;
    }
    const kv = /^\s*#\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line) ?? /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (kv) {
      const key = table + '.' + kv[1];
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(`  ${kv[1]} = ${kv[2]}`);
      continue;
    }
    out.push(line);
  }
  return out.join('\n');
}

/** Parses the sample (optionally fully uncommented) and returns the plugin's section and the schema's verdict. */
export function checkSample(sample: string, kind: 'inputs' | 'outputs', name: string, schema: JsonSchema, uncomment: boolean, ignoredKeys: string[] = []): { section: Record<string, unknown>; errors: string } {
  const text = uncomment ? uncommentSample(sample) : sample;
  const doc = TOML.parse(text) as Record<string, Record<string, Record<string, unknown>[]>>;
  const section = { ...doc[kind][name][0] };
  for (const k of ignoredKeys) delete section[k];
  const validate = makeAjv().compile(schema);
  const ok = validate(section);
  return { section, errors: ok ? '' : JSON.stringify(validate.errors) };
}
