import { z } from 'zod';
import { BadUserInputError, UnauthenticatedError } from '../core/errors';
import { parseInput } from '../core/validation';
import { USER_VIEW_FIELDS, User, UserModel } from './user.model';

/** Trimmed, 1 to 100 characters, no control characters (line breaks, NUL, bidi tricks stay out). */
export const displayNameSchema = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(100, 'must be at most 100 characters')
  // Also no line or paragraph separators, and no lone surrogates (stored as U+FFFD otherwise).
  .refine((s) => !/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u.test(s), 'must not contain control characters');

/** A display name from client input; null clears it, undefined leaves it unchanged. */
export function parseDisplayName(value: unknown): string | null | undefined {
  if (value === undefined || value === null) return value;
  return parseInput(z.object({ displayName: displayNameSchema }), { displayName: value }).displayName;
}

export async function updateProfile(userId: string, input: { displayName?: string | null }): Promise<User> {
  const given = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined));
  if (Object.keys(given).length === 0) throw new BadUserInputError('input', 'input must set at least one field');
  const displayName = parseDisplayName(input.displayName);
  const user = await UserModel.findOneAndUpdate(
    { _id: userId },
    { $set: { displayName } },
    { returnDocument: 'after' },
  ).lean<User>();
  if (!user) throw new UnauthenticatedError();
  return userView(user);
}

/** The private view's fields only (findOneAndUpdate cannot project on FerretDB v1). */
export function userView(user: User): User {
  const view = Object.fromEntries(Object.keys(USER_VIEW_FIELDS).map((key) => [key, user[key as keyof User]]));
  return { _id: user._id, ...view } as User;
}
