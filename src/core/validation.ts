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

/** A database id as the service stores and prints it: the lower-case hex of an ObjectId. */
export const OBJECT_ID_HEX = /^[0-9a-f]{24}$/;

/** Whether a client's value is a database id (24 hex digits, any case). */
export function isObjectId(value: unknown): value is string {
  return typeof value === 'string' && value.length === 24 && OBJECT_ID_HEX.test(value.toLowerCase());
}

/** A database id as a client sends it (24 hex digits, any case), lower-cased; else BAD_USER_INPUT on `field`. */
export function parseObjectId(value: string, field: string): string {
  if (!isObjectId(value)) throw new BadUserInputError(field, `${field} is not a valid id`);
  return value.toLowerCase();
}
