import { z } from 'zod';
import { BadUserInputError, type FieldProblem } from './errors';

/**
 * Parses client input with a zod schema; every problem found becomes one entry of a single
 * BAD_USER_INPUT, named by its path in the input (`tags.2`), so a form can mark all its fields
 * at once. A problem with the whole value is named `prefix` (the argument), else `input`.
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, prefix?: string): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const problems: FieldProblem[] = [];
  for (const issue of result.error.issues) {
    const field = issue.path.length ? issue.path.map(String).join('.') : (prefix ?? 'input');
    if (!problems.some((p) => p.field === field && p.message === issue.message))
      problems.push({ field, message: issue.message });
  }
  throw BadUserInputError.of(problems);
}

/** An email address as sign-up and sign-in take it: trimmed, lower-cased, at most 254 characters, valid. */
export const emailSchema = z
  .string()
  .trim()
  .toLowerCase()
  .max(254, 'must be at most 254 characters')
  .pipe(z.email({ error: 'must be a valid email address' }));

const OBJECT_ID = /^[0-9a-f]{24}$/i;

/** A database id as a client sends it (24 hex digits, any case), lower-cased; else BAD_USER_INPUT on `field`. */
export function parseObjectId(value: string, field: string): string {
  if (!OBJECT_ID.test(value)) throw new BadUserInputError(field, `${field} is not a valid id`);
  return value.toLowerCase();
}
