import { z } from 'zod';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** The environment as given: `process.env` or a test's object. */
export type Env = Record<string, string | undefined>;

export const int = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, `must be a whole number between ${min} and ${max}`)
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));

/** A comma-separated value as its trimmed, non-empty items. */
export const commaList = (s: string): string[] =>
  s
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);

export const bool = z.enum(['true', 'false'], { error: 'must be "true" or "false"' }).transform((v) => v === 'true');

/** What one schema holding every section's variables parses the environment into. */
export type Parsed = Record<string, unknown>;

/**
 * One group of settings: the variables it reads, each with its zod schema, and the settings it
 * builds from their values, so a new setting is added in one place. `base` is what it reads
 * besides its own variables (the server section's settings). `build` throws a ConfigError for a
 * combination of values that no single variable's schema can refuse.
 */
export interface Section<C, B> {
  readonly variables: z.ZodRawShape;
  /** Variables whose names depend on others (OIDC_<ID>_ISSUER for each id OIDC_PROVIDERS lists). */
  readonly dynamicVariables?: (env: Env) => z.ZodRawShape;
  readonly build: (values: Parsed, base: B) => C;
}

export function section<S extends z.ZodRawShape, C, B = unknown>(
  variables: S,
  build: (values: z.output<z.ZodObject<S>>, base: B) => C,
): Section<C, B> {
  // Sound: the values come from one schema that holds every section's variables, these among them.
  return { variables, build: build as unknown as Section<C, B>['build'] };
}

/** The sections' settings as one type: `A | B` becomes `A & B`. */
export type UnionToIntersection<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void
  ? I
  : never;

export type DeepReadonly<T> = T extends readonly (infer U)[]
  ? readonly DeepReadonly<U>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;
