import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import mongoose from 'mongoose';
import pino from 'pino';
import { MailMessageModel } from '../../../src/mail/mail.model';
import { flushMail, queueMail } from '../../../src/mail/mail.service';
import type { MailRequest, MailTemplate } from '../../../src/mail/mail.message';
import { claimMail } from '../../../src/mail/mail.worker';
import { createServer, type AppServer } from '../../../src/app/server';
import { startMailbox, type Mailbox } from '../../helpers/mailbox';
import { eventually } from '../../helpers/realtime';
import { startTestServer, TEST_MAIL_WORKER, testConfig, type TestServer } from '../../helpers/server';

const token = () => randomBytes(32).toString('base64url');
let seq = 0;
const address = () => `user${++seq}.${randomBytes(3).toString('hex')}@example.test`;

/** A pino logger whose lines (parsed) land in `lines`. */
function capturingLogger(level = 'info') {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: pino({ level }, sink), lines };
}

async function until<T>(probe: () => Promise<T | null | undefined>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

const outboxDoc = (to: string) => MailMessageModel.findOne({ to }).lean();

let mailbox: Mailbox;
beforeAll(async () => {
  mailbox = await startMailbox();
});
afterAll(() => mailbox.stop());

describe('queueMail over SMTP', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({
      SMTP_URL: mailbox.url,
      PUBLIC_URL: 'https://api.example.test',
      MAIL_FROM: 'Example <no-reply@example.test>',
    });
  });
  afterAll(() => t.stop());

  const send = (request: MailRequest) => queueMail(t.config, request, t.server.logger);

  it.each([
    ['verify-email', '/account/verify-email'],
    ['reset-password', '/account/reset-password'],
    ['confirm-email-change', '/account/confirm-email'],
  ] as Array<[MailTemplate, string]>)(
    'delivers %s with a text and an HTML part and a link to PUBLIC_URL%s?token=…',
    async (template, pathname) => {
      const to = address();
      const raw = token();
      await send({ to, template, data: { token: raw, newEmail: to } });
      const mail = await mailbox.waitFor((m) => m.to === to);
      expect(mail.from).toBe('no-reply@example.test');
      expect(mail.subject).not.toBe('');
      expect(mail.text).not.toBe('');
      expect(mail.html).toMatch(/^<!doctype html>/);
      const link = mailbox.link(mail);
      expect(link.origin).toBe('https://api.example.test');
      expect(link.pathname).toBe(pathname);
      expect(mailbox.linkToken(mail)).toBe(raw);
      // The HTML part carries the same link.
      expect(mail.html).toContain(`href="https://api.example.test${pathname}?token=${raw}"`);
    },
  );

  it.each(['password-changed', 'email-changed'] as MailTemplate[])(
    'delivers the %s notice with both parts and no link',
    async (template) => {
      const to = address();
      await send({ to, template, data: { newEmail: 'new.address@example.test' } });
      const mail = await mailbox.waitFor((m) => m.to === to);
      expect(mail.text).not.toMatch(/https?:\/\//);
      expect(mail.html).not.toContain('href=');
      expect(mail.html).toContain('<p>');
      if (template === 'email-changed') {
        expect(mail.text).toContain('new.address@example.test');
        expect(mail.html).toContain('new.address@example.test');
      }
    },
  );

  it('greets by display name when given, generically otherwise', async () => {
    const [named, anonymous] = [address(), address()];
    await send({ to: named, template: 'password-changed', data: { displayName: 'Ada Lovelace' } });
    await send({ to: anonymous, template: 'password-changed', data: { displayName: null } });
    const a = await mailbox.waitFor((m) => m.to === named);
    const b = await mailbox.waitFor((m) => m.to === anonymous);
    expect(a.text.split('\n')[0]).toBe('Hello Ada Lovelace,');
    expect(a.html).toContain('<p>Hello Ada Lovelace,</p>');
    expect(b.text.split('\n')[0]).toBe('Hello,');
  });

  it('escapes the display name in HTML and keeps it verbatim in text', async () => {
    const to = address();
    const displayName = '<script>alert(1)</script> & "Bob" <img src=x onerror=alert(2)>';
    await send({ to, template: 'reset-password', data: { displayName, token: token() } });
    const mail = await mailbox.waitFor((m) => m.to === to);
    expect(mail.html).not.toContain('<script');
    expect(mail.html).not.toContain('<img');
    expect(mail.html).toContain('&#60;script&#62;alert(1)&#60;/script&#62; &#38; &#34;Bob&#34;');
    expect(mail.text).toContain(`Hello ${displayName},`);
  });

  it.each(['verify-email', 'confirm-email-change'] as MailTemplate[])(
    'never puts a display name in %s (sent to an address nobody has proven yet)',
    async (template) => {
      const to = address();
      await send({ to, template, data: { displayName: 'Ada Lovelace', token: token(), newEmail: to } });
      const mail = await mailbox.waitFor((m) => m.to === to);
      expect(mail.text).not.toContain('Ada Lovelace');
      expect(mail.html).not.toContain('Ada Lovelace');
    },
  );

  it('says how long the link is valid when told', async () => {
    const to = address();
    await send({ to, template: 'reset-password', data: { token: token(), expiresInMinutes: 30 } });
    const mail = await mailbox.waitFor((m) => m.to === to);
    expect(mail.text).toContain('valid for 30 minutes');
    expect(mail.html).toContain('valid for 30 minutes');
  });

  it('delivers sign-in-code with the code and its validity in both parts, and no link', async () => {
    const to = address();
    await send({ to, template: 'sign-in-code', data: { code: '042917', expiresInMinutes: 10 } });
    const mail = await mailbox.waitFor((m) => m.to === to);
    expect(mail.subject).toBe('Your sign-in code');
    for (const part of [mail.text, mail.html]) {
      expect(part).toContain('Your sign-in code is 042917.');
      expect(part).toContain('The code is valid for 10 minutes.');
      expect(part).toContain('If you did not ask for it, ignore this message');
    }
    expect(mail.text).not.toMatch(/https?:\/\//);
    expect(mail.html).not.toContain('href=');
  });

  it('refuses to queue a sign-in-code without its code (a programming error)', async () => {
    await expect(send({ to: address(), template: 'sign-in-code', data: {} })).rejects.toThrow(/data\.code/);
  });

  it('builds links from a per-link template, URL-encoding the token', async () => {
    const config = testConfig({
      SMTP_URL: mailbox.url,
      VERIFY_EMAIL_URL: 'https://app.example.test/welcome?token={token}&from=mail',
    });
    const to = address();
    // A token needing encoding proves it is encoded (real tokens are base64url).
    await queueMail(config, { to, template: 'verify-email', data: { token: 'a+b/c=' } }, t.server.logger);
    const mail = await mailbox.waitFor((m) => m.to === to);
    expect(mailbox.link(mail).href).toBe('https://app.example.test/welcome?token=a%2Bb%2Fc%3D&from=mail');
    expect(mailbox.linkToken(mail)).toBe('a+b/c=');
  });

  it('removes a sent message, body and all, from the outbox', async () => {
    const to = address();
    const raw = token();
    await send({ to, template: 'reset-password', data: { token: raw } });
    await mailbox.waitFor((m) => m.to === to);
    await flushMail();
    expect(await MailMessageModel.countDocuments({ to })).toBe(0);
    // Nothing anywhere in the collection holds the token.
    const all = await mongoose.connection.db!.collection('mail_outbox').find({}).toArray();
    expect(JSON.stringify(all)).not.toContain(raw);
  });

  it('keeps the message when SMTP is down, without failing queueMail, and sends it once SMTP is back', async () => {
    await mailbox.stop();
    try {
      const to = address();
      const started = Date.now();
      await expect(send({ to, template: 'verify-email', data: { token: token() } })).resolves.toEqual(
        expect.any(String),
      );
      expect(Date.now() - started).toBeLessThan(2000);
      // At least one attempt failed and was recorded; the message waits with its body.
      const waiting = await until(async () => {
        const doc = await outboxDoc(to);
        return doc && doc.attempts >= 1 && doc.lastError ? doc : null;
      });
      expect(waiting).toMatchObject({ status: 'pending', text: expect.any(String), html: expect.any(String) });
      expect(waiting.lastError).toMatch(/ECONNREFUSED/);
      expect(waiting.lastError).not.toContain('smtp://');
      expect(waiting.nextAttemptAt.getTime()).toBeGreaterThan(Date.now() - 1000);
      await mailbox.start();
      const mail = await mailbox.waitFor((m) => m.to === to, 10_000);
      expect(mail.subject).not.toBe('');
      await until(async () => ((await outboxDoc(to)) === null ? true : null));
    } finally {
      await mailbox.start();
    }
  });

  it('sends a message the poll finds in the outbox (not queued through this process)', async () => {
    const to = address();
    await MailMessageModel.create({
      template: 'password-changed',
      to,
      subject: 'Left over',
      text: 'Hello,\n\nleft over\n',
      html: '<p>left over</p>',
      nextAttemptAt: new Date(),
      createdAt: new Date(),
    });
    const mail = await mailbox.waitFor((m) => m.to === to);
    expect(mail.subject).toBe('Left over');
  });
});

describe('mail retries', () => {
  it('stops after MAIL_MAX_ATTEMPTS, marks the message failed without its body, and logs an error', async () => {
    const { logger, lines } = capturingLogger();
    // A port nothing listens on: the mailbox is stopped for the length of this test.
    await mailbox.stop();
    const t = await startTestServer({ SMTP_URL: mailbox.url, MAIL_MAX_ATTEMPTS: '3' }, logger);
    try {
      const to = address();
      const raw = token();
      await queueMail(t.config, { to, template: 'reset-password', data: { token: raw } }, logger);
      const failed = await until(async () => {
        const doc = await outboxDoc(to);
        return doc?.status === 'failed' ? doc : null;
      }, 10_000);
      expect(failed.attempts).toBe(3);
      expect(failed.text).toBeUndefined();
      expect(failed.html).toBeUndefined();
      expect(failed.lastError).toMatch(/ECONNREFUSED/);
      expect(JSON.stringify(failed)).not.toContain(raw);
      // The worker logs right after the write the poll above saw: wait for the line, not for a tick.
      const errors = await until(async () => {
        const found = lines.filter((l) => l.level === 50 && l.mailId === String(failed._id));
        return found.length > 0 ? found : null;
      });
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatchObject({ attempts: 3, template: 'reset-password' });
      expect(lines.filter((l) => l.level === 40 && l.mailId === String(failed._id))).toHaveLength(2);
      // No further attempt once failed, even after the mailbox is back.
      await mailbox.start();
      await new Promise((r) => setTimeout(r, 3 * TEST_MAIL_WORKER.pollIntervalMs!));
      expect(mailbox.messages.some((m) => m.to === to)).toBe(false);
      expect((await outboxDoc(to))?.attempts).toBe(3);
    } finally {
      await mailbox.start();
      await t.stop();
    }
  });
});

describe('mail across a restart', () => {
  it('sends, on the next start, a message queued while SMTP was down before a stop', async () => {
    await mailbox.stop();
    const first = await startTestServer({ SMTP_URL: mailbox.url });
    const to = address();
    await queueMail(first.config, { to, template: 'verify-email', data: { token: token() } }, first.server.logger);
    // Stop without dropping the database (TestServer.stop would).
    await first.server.stop();
    await mailbox.start();
    const second = await startTestServer({ SMTP_URL: mailbox.url, MONGODB_URI: first.config.mongodbUri! });
    try {
      const mail = await mailbox.waitFor((m) => m.to === to, 10_000);
      expect(mailbox.linkToken(mail)).toMatch(/^[\w-]{43}$/);
    } finally {
      await second.stop();
    }
  });
});

describe('claimMail', () => {
  let t: TestServer;
  // This server's worker polls once at start and then not for an hour: only the test claims.
  beforeAll(async () => {
    t = await startTestServer({ SMTP_URL: mailbox.url }, undefined, { mail: { pollIntervalMs: 3_600_000 } });
  });
  afterAll(() => t.stop());

  it('gives one due message to exactly one of many concurrent claims', async () => {
    const to = address();
    const doc = await MailMessageModel.create({
      template: 'password-changed',
      to,
      subject: 'claim',
      text: 'x',
      html: '<p>x</p>',
      nextAttemptAt: new Date(Date.now() - 1000),
      createdAt: new Date(),
    });
    const claims = await Promise.all(Array.from({ length: 12 }, () => claimMail(60_000)));
    const mine = claims.filter((c) => c && String(c._id) === String(doc._id));
    // Any queueMail in this process wakes this server's worker too, which may claim it first (and
    // send it): then none of the test's claims may have it.
    if (mine.length === 0) {
      await mailbox.waitFor((m) => m.to === to);
      // The worker deletes a message once the mail server has answered, a moment after delivery.
      await eventually(async () => (await MailMessageModel.exists({ _id: doc._id })) === null, 'sent message deleted');
      return;
    }
    expect(mine).toHaveLength(1);
    expect(mine[0]!.attempts).toBe(1);
    expect(mine[0]!.lockedUntil.getTime()).toBeGreaterThan(Date.now());
    // Claimed: no other claim gets it until the lock lapses.
    expect(await claimMail(60_000)).toBeNull();
  });
});

describe('several workers on one database', () => {
  let a: AppServer;
  let b: AppServer;
  beforeAll(async () => {
    const config = testConfig({ SMTP_URL: mailbox.url });
    // Two complete servers in one process share mongoose's connection, as two instances share a database.
    a = await createServer(config, { mail: TEST_MAIL_WORKER });
    b = await createServer(config, { mail: TEST_MAIL_WORKER });
  });
  afterAll(async () => {
    await mongoose.connection.dropDatabase().catch(() => undefined);
    await a.stop();
    await b.stop();
  });

  it('sends each of a batch of messages once, with both workers polling', async () => {
    const batch = Array.from({ length: 20 }, (_, i) => ({ to: address(), subject: `batch ${i}` }));
    const now = new Date();
    await MailMessageModel.insertMany(
      batch.map((m) => ({
        ...m,
        template: 'password-changed',
        text: 'x',
        html: '<p>x</p>',
        nextAttemptAt: now,
        createdAt: now,
      })),
    );
    for (const m of batch) await mailbox.waitFor((r) => r.to === m.to, 10_000);
    await flushMail();
    // A second round of polls: nothing is sent again.
    await new Promise((r) => setTimeout(r, 3 * TEST_MAIL_WORKER.pollIntervalMs!));
    for (const m of batch) expect(mailbox.messages.filter((r) => r.to === m.to)).toHaveLength(1);
    expect(await MailMessageModel.countDocuments({ to: { $in: batch.map((m) => m.to) } })).toBe(0);
  });
});

describe('log transport', () => {
  it('writes recipient, subject and link at info, and sends nothing', async () => {
    const { logger, lines } = capturingLogger();
    const t = await startTestServer({}, logger);
    try {
      expect(t.config.mail.transport).toBe('log');
      const to = address();
      const raw = token();
      await queueMail(t.config, { to, template: 'reset-password', data: { token: raw } }, logger);
      await flushMail();
      const line = lines.find((l) => (l.mail as { to?: string } | undefined)?.to === to);
      expect(line).toMatchObject({
        level: 30,
        mail: {
          to,
          subject: expect.any(String),
          links: [`${t.config.mail.publicUrl}/account/reset-password?token=${raw}`],
        },
      });
      expect(mailbox.messages.some((m) => m.to === to)).toBe(false);
      expect(await MailMessageModel.countDocuments({ to })).toBe(0);
    } finally {
      await t.stop();
    }
  });
});
