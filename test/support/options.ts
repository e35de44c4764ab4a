/** Applies a plugin schema's defaults and validates options with the core's ajv setup, as the config loader does before `create`. */
import { makeAjv } from '../../core/config/schema';
import type { JsonSchema } from '../../core/plugin';

export function withDefaults<O>(schema: JsonSchema, options: Record<string, unknown>): O {
  const copy = JSON.parse(JSON.stringify(options)) as Record<string, unknown>;
  const ajv = makeAjv();
  const validate = ajv.compile(schema);
  if (!validate(copy)) throw new Error(`invalid options: ${ajv.errorsText(validate.errors)}`);
  return copy as O;
}
