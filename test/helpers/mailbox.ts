import type { AddressInfo } from 'node:net';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  /** The envelope recipient (RCPT TO). */
  to: string;
  from: string;
  subject: string;
  text: string;
  /** The HTML part, or '' when the message had none. */
  html: string;
}

export interface Mailbox {
  /** The SMTP_URL to give the server under test. */
  readonly url: string;
  readonly port: number;
  /** Every message received so far, in order. */
  readonly messages: ReceivedMail[];
  waitFor(predicate: (mail: ReceivedMail) => boolean, timeoutMs?: number): Promise<ReceivedMail>;
  /** The `token` query parameter of the first link in the text part. */
  linkToken(mail: ReceivedMail): string;
  /** The first link in the text part. */
  link(mail: ReceivedMail): URL;
  /** Stops listening (an SMTP outage); start() listens again on the same port. */
  stop(): Promise<void>;
  start(): Promise<void>;
}

/**
 * A real SMTP server in the test process, on a free loopback port: no authentication and no
 * STARTTLS, so nodemailer talks plain SMTP to it. Each message is parsed with mailparser.
 */
export async function startMailbox(): Promise<Mailbox> {
  const messages: ReceivedMail[] = [];
  let server: SMTPServer | undefined;
  let port = 0;

  function create(): SMTPServer {
    return new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS', 'AUTH'],
      logger: false,
      closeTimeout: 500,
      onData(stream, session, callback) {
        simpleParser(stream)
          .then((parsed) => {
            messages.push({
              to: session.envelope.rcptTo.map((r) => r.address).join(', '),
              from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
              subject: parsed.subject ?? '',
              text: parsed.text ?? '',
              html: typeof parsed.html === 'string' ? parsed.html : '',
            });
            callback();
          })
          .catch((err: Error) => callback(err));
      },
    });
  }

  async function start(): Promise<void> {
    if (server) return;
    const s = create();
    await new Promise<void>((resolve, reject) => {
      s.server.once('error', reject);
      s.listen(port, '127.0.0.1', () => resolve());
    });
    port = (s.server.address() as AddressInfo).port;
    server = s;
  }

  await start();

  const firstLink = (mail: ReceivedMail): URL => {
    const match = /https?:\/\/\S+/.exec(mail.text);
    if (!match) throw new Error(`no link in the mail "${mail.subject}"`);
    return new URL(match[0]);
  };

  return {
    url: `smtp://127.0.0.1:${port}`,
    port,
    messages,
    async waitFor(predicate, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = messages.find(predicate);
        if (found) return found;
        if (Date.now() > deadline)
          throw new Error(`no matching mail within ${timeoutMs} ms (${messages.length} received)`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    link: firstLink,
    linkToken(mail) {
      const token = firstLink(mail).searchParams.get('token');
      if (token === null) throw new Error(`the first link in "${mail.subject}" has no token parameter`);
      return token;
    },
    async stop() {
      const s = server;
      server = undefined;
      if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
    },
    start,
  };
}
