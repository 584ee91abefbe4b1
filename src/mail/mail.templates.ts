import type { Config } from '../core/config';
import type { MailRequest, MailTemplate, RenderedMail } from './mail.message';

/**
 * The seven messages. Each is a subject, a few paragraphs and at most one link; `render` turns
 * that into a plain-text and an HTML part, so both always say the same thing. Paragraph text is
 * plain text: everything is escaped on the way into HTML, user-supplied or not.
 */
interface MailContent {
  subject: string;
  paragraphs: string[];
  link?: { url: string; label: string };
  /**
   * Sent to an address nobody has proven yet (the link in it is the proof): whoever asked for it
   * may not own the mailbox, so it carries none of their text, whatever `data.displayName` says.
   */
  unproven?: true;
}

type Links = Config['mail']['links'];

const templates: Record<MailTemplate, (data: MailRequest['data'], links: Links) => MailContent> = {
  'verify-email': (data, links) => ({
    subject: 'Confirm your email address',
    paragraphs: [
      'Please confirm that this is your email address by opening the link below.',
      validity(data.expiresInMinutes),
      'If you did not create an account, you can ignore this message.',
    ],
    link: { url: link(links.verifyEmail, data.token), label: 'Confirm my email address' },
    unproven: true,
  }),
  'reset-password': (data, links) => ({
    subject: 'Reset your password',
    paragraphs: [
      'Someone asked to reset the password of your account. Open the link below to choose a new one.',
      'A reset also signs out every session and revokes every API key of the account: create new keys for your scripts afterwards.',
      validity(data.expiresInMinutes),
      'If it was not you, ignore this message: your password stays as it is.',
    ],
    link: { url: link(links.resetPassword, data.token), label: 'Choose a new password' },
  }),
  'password-changed': () => ({
    subject: 'Your password was changed',
    paragraphs: [
      'The password of your account was just changed, and every other session was signed out.',
      'If you did not do this, reset your password at once and contact support.',
    ],
  }),
  'confirm-email-change': (data, links) => ({
    subject: 'Confirm your new email address',
    paragraphs: [
      `Open the link below to make ${data.newEmail ?? 'this address'} the email address of your account.`,
      validity(data.expiresInMinutes),
      'If you did not ask for this, ignore this message: nothing changes.',
    ],
    link: { url: link(links.confirmEmailChange, data.token), label: 'Confirm the new address' },
    unproven: true,
  }),
  'email-changed': (data) => ({
    subject: 'Your email address was changed',
    paragraphs: [
      `The email address of your account was changed${data.newEmail ? ` to ${data.newEmail}` : ''}. ` +
        'Messages about the account now go there.',
      'If you did not do this, contact support at once.',
    ],
  }),
  // No link: the code is typed into the page that asked for it, so the session starts there (a
  // link opens wherever the mail is read, and mail scanners follow links).
  'sign-in-code': (data) => ({
    subject: 'Your sign-in code',
    paragraphs: [
      `Your sign-in code is ${required(data.code, 'code')}. Enter it where you asked for it; it works once.`,
      validity(data.expiresInMinutes, 'code'),
      'If you did not ask for it, ignore this message: your account stays as it is. Never give this code to anyone.',
    ],
  }),
  // Only fixed text: the organization's name and the inviter's name or address are written by
  // the inviter, and this address has proven nothing, so the mail must not carry their words
  // (a phishing vehicle with our sender). The invitee learns the name once they accept.
  invitation: (data, links) => ({
    subject: 'You are invited to join an organization',
    paragraphs: [
      `You have been invited to join an organization${data.role ? ` as ${ROLE_NAMES[data.role]}` : ''}.`,
      'To accept, open the link below and sign in with this email address (if you have no account yet, ' +
        'sign up with this address and confirm it first). The link works once.',
      validity(data.expiresInMinutes),
      'If you did not expect this, ignore this message: nothing happens unless you accept.',
    ],
    link: { url: link(links.acceptInvitation, data.token), label: 'Accept the invitation' },
    unproven: true,
  }),
};

const ROLE_NAMES: Record<NonNullable<MailRequest['data']['role']>, string> = {
  OWNER: 'an owner',
  ADMIN: 'an administrator',
  MEMBER: 'a member',
  VIEWER: 'a viewer',
};

/** Subject, text and HTML for one request; links are built from the configuration. */
export function renderMail(config: Config, request: MailRequest): RenderedMail {
  const content = templates[request.template](request.data, config.mail.links);
  const name = content.unproven ? null : request.data.displayName;
  const greeting = name ? `Hello ${name},` : 'Hello,';
  const paragraphs = [greeting, ...content.paragraphs.filter(Boolean)];

  const text = [...paragraphs, ...(content.link ? [content.link.url] : [])].join('\n\n') + '\n';
  const html =
    `<!doctype html><html><body style="font-family:sans-serif;line-height:1.5">` +
    paragraphs.map((p) => `<p>${escapeHtml(p)}</p>`).join('') +
    (content.link
      ? `<p><a href="${escapeHtml(content.link.url)}">${escapeHtml(content.link.label)}</a></p>` +
        `<p style="font-size:small">Or paste this address into your browser: ${escapeHtml(content.link.url)}</p>`
      : '') +
    `</body></html>`;
  return { to: request.to, subject: content.subject, text, html };
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function link(template: string, token: string | undefined): string {
  return template.replaceAll('{token}', encodeURIComponent(required(token, 'token')));
}

/** A value the template cannot do without: missing, it is a programming error. */
function required(value: string | undefined, name: keyof MailRequest['data']): string {
  if (!value) throw new Error(`this mail template needs data.${name}`);
  return value;
}

function validity(minutes: number | undefined, what: 'link' | 'code' = 'link'): string {
  if (minutes === undefined) return '';
  const span =
    minutes >= 2 * 1440 && minutes % 1440 === 0
      ? `${minutes / 1440} days`
      : minutes >= 120 && minutes % 60 === 0
        ? `${minutes / 60} hours`
        : minutes === 60
          ? '1 hour'
          : `${minutes} minute${minutes === 1 ? '' : 's'}`;
  return `The ${what} is valid for ${span}.`;
}
