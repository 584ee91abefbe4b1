import { bool, int, section } from './section';

/** Account links (email verification, password reset, email change) and what an unverified address may do. */
export const account = section(
  {
    EMAIL_VERIFICATION_TTL: int(60, 30 * 86_400).default(86_400),
    PASSWORD_RESET_TTL: int(60, 86_400).default(1800),
    EMAIL_CHANGE_TTL: int(60, 7 * 86_400).default(3600),
    REQUIRE_EMAIL_VERIFICATION: bool.default(false),
  },
  (v) => ({
    /** Link lifetimes (seconds) and whether an unverified address may sign in. */
    account: {
      emailVerificationTtl: v.EMAIL_VERIFICATION_TTL,
      passwordResetTtl: v.PASSWORD_RESET_TTL,
      emailChangeTtl: v.EMAIL_CHANGE_TTL,
      requireEmailVerification: v.REQUIRE_EMAIL_VERIFICATION,
    },
  }),
);
