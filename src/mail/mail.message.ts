export type MailTemplate =
  | 'verify-email'
  | 'reset-password'
  | 'password-changed'
  | 'confirm-email-change'
  | 'email-changed'
  | 'sign-in-code'
  | 'invitation';

export interface MailRequest {
  to: string;
  /** The account the message is about (every account mail sets it): deleting the account deletes its queued messages. */
  userId?: string;
  template: MailTemplate;
  /**
   * displayName: user text (escaped in HTML) for the greeting; give it only for an address the
   * account has proven (greetingName in src/users/user.profile.ts), and verify-email and
   * confirm-email-change never show it. token: the raw link token (verify-email, reset-password,
   * confirm-email-change, invitation). code: the sign-in code (sign-in-code). newEmail: for
   * email-changed / confirm-email-change. role: the organization role offered (invitation).
   * expiresInMinutes: how long the link or code is valid, said in the message when given.
   */
  data: {
    displayName?: string | null;
    token?: string;
    code?: string;
    newEmail?: string;
    role?: 'OWNER' | 'ADMIN' | 'MEMBER' | 'VIEWER';
    expiresInMinutes?: number;
  };
}

/** A message ready to send: what the outbox stores. */
export interface RenderedMail {
  to: string;
  subject: string;
  text: string;
  html: string;
}
