/**
 * A plugin's options typed from its schema.json. Each plugin's options.ts
 * declares
 *
 *     import schema from './schema.json';
 *     export type FooOptions = SchemaOptions<typeof schema, { ... }>;
 *     export const DEFAULT_OPTIONS: FooOptions = schemaDefaults(schema);
 *
 * and compiling fails where the two disagree: a key the schema has and the
 * type lacks (or the reverse), an option with a schema default that the type
 * makes optional, or a required option without a default (the config loader
 * fills in defaults, so only options without one may be absent).
 */

type Properties<S> = S extends { properties: infer P } ? P : never;
type SchemaKey<S> = Extract<keyof Properties<S>, string>;
/** Options whose schema gives a default. */
type DefaultedKey<S> = { [K in SchemaKey<S>]: Properties<S>[K] extends { default: unknown } ? K : never }[SchemaKey<S>];
type RequiredKey<O> = { [K in keyof O]-?: object extends Pick<O, K> ? never : K }[keyof O];

export type SchemaOptions<
  S extends { properties: object },
  O extends { [K in keyof O]: K extends SchemaKey<S> ? unknown : never } & { [K in Exclude<SchemaKey<S>, keyof O>]: never } & { [K in DefaultedKey<S>]-?: unknown } & {
    [K in RequiredKey<O>]: K extends DefaultedKey<S> ? unknown : never;
  },
> = O;

/** The options as the config loader fills them in for an empty section: each property's schema default (copied). */
export function schemaDefaults<O>(schema: { properties: Record<string, object> }): O {
  const options: Record<string, unknown> = {};
  for (const [key, property] of Object.entries(schema.properties)) {
    if ('default' in property) options[key] = structuredClone(property.default);
  }
  return options as O;
}
