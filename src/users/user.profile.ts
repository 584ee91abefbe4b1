import { z } from 'zod';
import { BadUserInputError, UnauthenticatedError } from '../core/errors';
import { parseInput } from '../core/validation';
import { USER_VIEW_FIELDS, User, UserModel } from './user.model';

// ---------------------------------------------------------------- links in display names

/** A dot as URL parsers read it: also the ideographic and full-width ones (IDNA maps them to '.'). */
const DOT = '[.\\u3002\\uFF0E\\uFF61]';
const LABEL = '[\\p{L}\\p{N}](?:[\\p{L}\\p{N}-]*[\\p{L}\\p{N}])?';
/** Labels joined by dots, ending in a top-level-domain shape: two or more letters, or an IDN (xn--). */
const HOST = new RegExp(
  `(?<![\\p{L}\\p{N}-])(?:${LABEL}${DOT})+(?:\\p{L}{2,}|xn--[\\p{L}\\p{N}-]+)(?![\\p{L}\\p{N}-])`,
  'gu',
);
/** After a host, what makes it an address: a path, a port, a query or a fragment. */
const AFTER_HOST = /^(?:[/\\?#]|:\d)/u;
/** Initials or short abbreviations in title case before a capitalised word: "Dr.Who", "J.R.R.Tolkien". */
const ABBREVIATED_NAME = new RegExp(`^(?:\\p{Lu}\\p{Ll}{0,2}${DOT})+\\p{Lu}\\p{Ll}+$`, 'u');
const LINK_PATTERNS = [
  // Any scheme with slashes (https://, ftp://, chrome-extension://).
  /\p{L}[\p{L}\p{N}+.-]*:[/\\]{2}/iu,
  // Schemes that need no slashes, when something follows at once ("Note: Ada" stays a name).
  /(?<![\p{L}\p{N}])(?:https?|ftp|mailto|javascript|vbscript|data|file|tel|sms|callto|skype|tg|whatsapp|intent|market):(?=\S)/iu,
  new RegExp(`(?<![\\p{L}\\p{N}])www\\d*${DOT}`, 'iu'),
  // An email address: something@domain.tld.
  new RegExp(`[^\\s@]@[^\\s@]+${DOT}[^\\s@.]`, 'u'),
  // An IPv4 address.
  new RegExp(`(?<![\\p{N}.])\\d{1,3}(?:${DOT}\\d{1,3}){3}(?!\\p{N})`, 'u'),
];

/**
 * Whether a display name carries a web address or an email address. A display name is shown to
 * other users and greets its owner in mail, so it must not be a way to hand people a link or an
 * address to write to. Checked on the NFKC form (full-width letters read as ASCII). Refused:
 * - a scheme: `anything://`, or a known scheme without slashes followed directly by text
 *   (`mailto:x`, `javascript:x`, `https:x`); "Note: Ada" is a name;
 * - `www.`; an email address (`x@y.z`); an IPv4 address;
 * - a host name: labels (letters, digits, hyphens) joined by dots, with no space, ending in a
 *   label of two or more letters: `evil.example`, `PayPal.Com`, `login.evil.example`. Any dot
 *   a URL parser accepts counts (full-width, ideographic).
 * A dot followed by a space never makes a host ("J. R. R. Tolkien", "Ada L.", "Ph.D."), and one
 * shape of a host is allowed as a name: initials or abbreviations of up to three letters in title
 * case before one capitalised word ("Dr.Who", "St.John", "J.R.R.Tolkien"), unless a path, port,
 * query or fragment follows ("Bit.Ly/x"). What that lets through is a short title-case host on
 * its own ("Bit.Ly"); names are no longer put in mail to unproven addresses in any case.
 */
export function containsLink(name: string): boolean {
  const s = name.normalize('NFKC');
  if (LINK_PATTERNS.some((pattern) => pattern.test(s))) return true;
  for (const match of s.matchAll(HOST)) {
    const after = s.slice(match.index + match[0].length);
    if (AFTER_HOST.test(after) || !ABBREVIATED_NAME.test(match[0])) return true;
  }
  return false;
}

/** Trimmed, 1 to 100 characters, no control characters (line breaks, NUL, bidi tricks stay out), no links. */
export const displayNameSchema = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(100, 'must be at most 100 characters')
  // Also no line or paragraph separators, and no lone surrogates (stored as U+FFFD otherwise).
  .refine((s) => !/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u.test(s), 'must not contain control characters')
  .refine((s) => !containsLink(s), 'must not contain a web address or an email address');

/**
 * The name to greet `user` with in mail to the account's address: only once that address is
 * proven (verified). Until then whoever registered or changed the account chose the name, and
 * the mailbox may belong to someone else: a generic greeting carries none of their text.
 */
export function greetingName(user: Pick<User, 'displayName' | 'emailVerified'>): string | null {
  return user.emailVerified ? (user.displayName ?? null) : null;
}

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
