import { z } from 'zod';
import { BadUserInputError } from './errors';

/**
 * Parses client input with a zod schema; the first problem becomes a BAD_USER_INPUT that names
 * the offending field (the top-level argument or input field), as clients expect.
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, prefix?: string): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const field = issue.path.length ? String(issue.path[0]) : (prefix ?? 'input');
  throw new BadUserInputError(field, `${field}: ${issue.message}`);
}
