/** Applies a plugin schema's defaults and validates options, as the core does before `create`. */
import Ajv from 'ajv';
import type { JsonSchema } from '../../core/plugin';

const ajv = new Ajv({ useDefaults: true, allErrors: true, strict: false });

export function withDefaults<O>(schema: JsonSchema, options: Record<string, unknown>): O {
  const copy = JSON.parse(JSON.stringify(options)) as Record<string, unknown>;
  const validate = ajv.compile(schema);
  if (!validate(copy)) throw new Error(`invalid options: ${ajv.errorsText(validate.errors)}`);
  return copy as O;
}
