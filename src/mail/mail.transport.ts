import nodemailer from 'nodemailer';
import type { Config } from '../core/config';
import type { Logger } from '../core/logger';
import type { RenderedMail } from './mail.message';

export interface MailTransport {
  send(mail: RenderedMail): Promise<void>;
  close(): void;
}

/**
 * Bounds on one send, so a silent SMTP server cannot hold a claimed message for nodemailer's
 * defaults (2 min to connect, 10 min of socket inactivity); the claim (lockMs in mail.worker.ts) outlasts them.
 */
export const SMTP_TIMEOUTS = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 };

export function createMailTransport(config: Config, logger: Logger): MailTransport {
  if (config.mail.transport === 'log') {
    return {
      async send(mail) {
        // Development only: the links carry live tokens, which is why production needs MAIL_TRANSPORT=log explicitly.
        const links = mail.text.match(/https?:\/\/\S+/g) ?? [];
        logger.info({ mail: { to: mail.to, subject: mail.subject, links } }, 'mail (log transport: not sent)');
      },
      close() {},
    };
  }
  // smtp:// upgrades with STARTTLS when the server offers it; smtps:// is TLS from the start.
  const transporter = nodemailer.createTransport(
    { url: config.mail.smtpUrl, ...SMTP_TIMEOUTS },
    { from: config.mail.from },
  );
  return {
    async send(mail) {
      await transporter.sendMail({ to: mail.to, subject: mail.subject, text: mail.text, html: mail.html });
    },
    close() {
      transporter.close();
    },
  };
}
