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
