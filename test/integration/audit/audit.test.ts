import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { print } from 'graphql';
import mongoose, { Types } from 'mongoose';
import pino, { type Logger } from 'pino';
import { AuditEventsDocument, type AuditEventsQuery } from '../../../schema/generated/graphql';
import { AuditEventModel } from '../../../src/audit/audit.model';
import {
  AuditEventType,
  deleteExpiredAuditEvents,
  flushAuditEvents,
  recordAuditEvent,
  type AuditEventInput,
} from '../../../src/audit/audit.service';
import { withDatabaseName } from '../../../src/infra/db';
import { freePort, startFerretdb, type RunningFerretdb } from '../../../src/infra/ferretdb';
import { formatRefreshToken, newRefreshSecret, newSessionId } from '../../../src/auth/tokens';
import { encodeCursor } from '../../../src/core/pagination';
import { bearer, logIn, signUp, strongPassword, uniqueEmail } from '../../helpers/auth';
import { codes } from '../../helpers/graphql';
import { startTestServer, type TestServer } from '../../helpers/server';

const AUDIT_EVENTS = print(AuditEventsDocument);
const DAY = 86_400_000;

type LogLine = Record<string, unknown> & { level: number; msg: string };
const PINO_LEVEL = { info: 30, warn: 40, error: 50 };

/** A pino logger writing JSON lines into an array, as the server's own logger would. */
function memoryLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: pino({ level: 'info' }, sink), lines };
}

const newId = (): string => new Types.ObjectId().toHexString();

/** The stored documents, read without mongoose's model (what really is in the collection). */
function rawEvents(filter: Record<string, unknown> = {}) {
  return mongoose.connection.db!.collection('audit_events').find(filter).sort({ createdAt: -1, _id: -1 }).toArray();
}

describe('audit events', () => {
  const ADMIN_EMAIL = uniqueEmail('admin');
  const ADMIN_PASSWORD = strongPassword();
  const { logger, lines } = memoryLogger();
  let t: TestServer;
  let asAdmin: Record<string, string>;
  let asUser: Record<string, string>;

  type Page = AuditEventsQuery['auditEvents'];
  async function page(variables: Record<string, unknown>): Promise<Page> {
    const res = await t.gql<AuditEventsQuery>(AUDIT_EVENTS, variables, asAdmin);
    expect(res.body.errors).toBeUndefined();
    return res.body.data!.auditEvents;
  }

  /** Follows endCursor until the last page; returns every node and the size of each page. */
  async function walk(variables: Record<string, unknown>, first: number) {
    const nodes: Page['edges'][number]['node'][] = [];
    const sizes: number[] = [];
    let after: string | null = null;
    for (;;) {
      const p: Page = await page({ ...variables, first, after });
      nodes.push(...p.edges.map((e) => e.node));
      sizes.push(p.edges.length);
      expect(p.pageInfo.hasPreviousPage).toBe(after !== null);
      if (!p.pageInfo.hasNextPage) return { nodes, sizes };
      after = p.pageInfo.endCursor;
    }
  }

  function record(event: AuditEventInput): void {
    recordAuditEvent(event, logger);
  }

  beforeAll(async () => {
    t = await startTestServer({ ADMIN_EMAIL, ADMIN_PASSWORD }, logger);
    asAdmin = bearer((await logIn(t, ADMIN_EMAIL, ADMIN_PASSWORD)).accessToken);
    asUser = bearer((await signUp(t)).accessToken);
  });
  afterAll(() => t.stop());

  describe('Query.auditEvents', () => {
    it('pages an admin through 45 events newest first, with no repeats or gaps', async () => {
      const userId = newId();
      const recorded: string[] = [];
      for (let i = 0; i < 45; i++) {
        // Many land in the same millisecond: the id breaks those ties.
        record({ type: AuditEventType.LOGIN_FAILED, userId, details: { seq: i } });
        recorded.push(String(i));
      }
      await flushAuditEvents();

      const mine = await walk({ filter: { userId } }, 20);
      expect(mine.sizes).toEqual([20, 20, 5]);
      expect(mine.nodes.map((n) => n.details.find((d) => d.key === 'seq')?.value)).toEqual(recorded.reverse());

      // Unfiltered, the walk is exactly the collection in (createdAt desc, _id desc) order.
      const all = await walk({}, 20);
      const stored = await rawEvents();
      expect(all.nodes.map((n) => n.id)).toEqual(stored.map((d) => String(d._id)));
      expect(new Set(all.nodes.map((n) => n.id)).size).toBe(all.nodes.length);
      const times = all.nodes.map((n) => Date.parse(n.createdAt));
      expect(times).toEqual([...times].sort((a, b) => b - a));
    });

    it('returns every public field of an event', async () => {
      const userId = newId();
      const actorId = newId();
      record({
        type: AuditEventType.USER_DISABLED,
        userId,
        actorId,
        ip: '203.0.113.7',
        userAgent: 'curl/8.5.0',
        email: 'someone@example.com',
        details: { reason: 'abuse report', attempts: 3, permanent: false, note: null },
      });
      await flushAuditEvents();
      const p = await page({ filter: { userId } });
      expect(p.edges).toHaveLength(1);
      const node = p.edges[0]!.node;
      // The generated documents select __typename everywhere (codegen.yml), as Apollo Client's cache wants.
      expect(node).toEqual({
        __typename: 'AuditEvent',
        id: expect.stringMatching(/^[0-9a-f]{24}$/),
        type: 'USER_DISABLED',
        userId,
        actorId,
        ip: '203.0.113.7',
        userAgent: 'curl/8.5.0',
        email: 'someone@example.com',
        details: [
          { __typename: 'AuditDetail', key: 'reason', value: 'abuse report' },
          { __typename: 'AuditDetail', key: 'attempts', value: '3' },
          { __typename: 'AuditDetail', key: 'permanent', value: 'false' },
          { __typename: 'AuditDetail', key: 'note', value: null },
        ],
        createdAt: expect.any(String),
      });
      expect(Math.abs(Date.parse(node.createdAt) - Date.now())).toBeLessThan(60_000);
      expect(p.pageInfo).toEqual({
        __typename: 'PageInfo',
        hasNextPage: false,
        hasPreviousPage: false,
        startCursor: p.edges[0]!.cursor,
        endCursor: p.edges[0]!.cursor,
      });
    });

    it('filters by userId, by type, and by both', async () => {
      const [a, b] = [newId(), newId()];
      record({ type: AuditEventType.ACCOUNT_LOCKED, userId: a });
      record({ type: AuditEventType.ACCOUNT_UNLOCKED, userId: a, actorId: b });
      record({ type: AuditEventType.ACCOUNT_LOCKED, userId: b });
      record({ type: AuditEventType.PASSWORD_CHANGED, userId: a });
      await flushAuditEvents();

      const forA = await page({ filter: { userId: a } });
      expect(forA.edges.map((e) => e.node.type)).toEqual(['PASSWORD_CHANGED', 'ACCOUNT_UNLOCKED', 'ACCOUNT_LOCKED']);
      // Upper-case hex is the same id.
      expect((await page({ filter: { userId: a.toUpperCase() } })).edges).toHaveLength(3);

      const locked = await walk({ filter: { type: 'ACCOUNT_LOCKED' } }, 100);
      expect(locked.nodes.map((n) => n.userId)).toEqual([b, a]);
      expect((await rawEvents({ type: 'ACCOUNT_LOCKED' })).length).toBe(2);

      const both = await page({ filter: { userId: a, type: 'ACCOUNT_LOCKED' } });
      expect(both.edges.map((e) => [e.node.userId, e.node.type])).toEqual([[a, 'ACCOUNT_LOCKED']]);
      expect((await page({ filter: { userId: newId() } })).edges).toEqual([]);
    });

    it('refuses a USER with FORBIDDEN and an anonymous caller with UNAUTHENTICATED', async () => {
      const user = await t.gql(AUDIT_EVENTS, {}, asUser);
      expect(codes(user)).toEqual(['FORBIDDEN']);
      expect(user.body.data).toBeNull();
      const anonymous = await t.gql(AUDIT_EVENTS, {});
      expect(codes(anonymous)).toEqual(['UNAUTHENTICATED']);
      expect(anonymous.body.data).toBeNull();
      // The field-level types are not a way around it either.
      expect(codes(await t.gql('{ auditEvents { edges { node { id email } } } }', {}, asUser))).toEqual(['FORBIDDEN']);
    });

    it.each([
      ['a cursor that is not base64url', { after: 'not a cursor!' }, 'after'],
      ['a cursor of another shape', { after: encodeCursor(['x']) }, 'after'],
      ['a cursor with a bad id', { after: encodeCursor([Date.now(), 'nope']) }, 'after'],
      ['a cursor with an impossible time', { after: encodeCursor([1e300, newId()]) }, 'after'],
      ['a malformed userId', { filter: { userId: 'nope' } }, 'userId'],
      ['an operator object as userId', { filter: { userId: '{"$ne":null}' } }, 'userId'],
      ['first above 100', { first: 101 }, 'first'],
      ['a negative first', { first: -1 }, 'first'],
    ])('answers BAD_USER_INPUT for %s', async (_name, variables, field) => {
      const res = await t.gql(AUDIT_EVENTS, variables, asAdmin);
      expect(codes(res)).toEqual(['BAD_USER_INPUT']);
      expect(res.body.errors![0]!.extensions!.field).toBe(field);
    });

    it('refuses an unknown type before running (GraphQL enum)', async () => {
      const res = await t.gql(AUDIT_EVENTS, { filter: { type: 'NOT_A_TYPE' } }, asAdmin);
      expect(res.status).toBe(400);
      expect(codes(res)).toEqual(['BAD_USER_INPUT']);
    });

    it('answers an empty page for first: 0', async () => {
      const p = await page({ first: 0 });
      expect(p.edges).toEqual([]);
    });
  });

  describe('recordAuditEvent', () => {
    it('never stores a password, token, Authorization header or cookie, whatever the caller passes', async () => {
      const userId = newId();
      const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl';
      // A refresh token as the service issues them, and one in the older ObjectId-based form.
      const refresh = formatRefreshToken(newSessionId(), newRefreshSecret().secret);
      const legacyRefresh = `${newId()}.${'A'.repeat(43)}`;
      const secrets = ['hunter2-Secret', jwt, refresh, legacyRefresh, 'sid=abc123', 's3cr3t-value', 'api-key-value'];
      const event = {
        type: AuditEventType.LOGIN_FAILED,
        userId,
        // Not part of the recorder's API: a caller spreading its input by mistake.
        password: secrets[0],
        refreshToken: refresh,
        details: {
          password: secrets[0],
          newPassword: secrets[0],
          refresh_token: refresh,
          accessToken: jwt,
          Authorization: `Bearer ${jwt}`,
          cookie: secrets[4],
          clientSecret: secrets[5],
          api_key: secrets[6],
          header: `Bearer ${jwt}`,
          note: `presented ${refresh}`,
          legacyNote: `presented ${legacyRefresh}`,
          raw: `Basic ${Buffer.from('a@b.co:hunter2-Secret').toString('base64')}`,
          reason: 'wrong password',
          attempts: 2,
          locked: false,
          nested: { password: secrets[0] },
          'a.b': 'dotted',
          $where: 'operator',
        },
      } as unknown as AuditEventInput;
      record(event);
      await flushAuditEvents();

      const [stored] = await rawEvents({ userId });
      expect(stored).toBeDefined();
      expect(stored!.details).toEqual({ reason: 'wrong password', attempts: 2, locked: false });
      expect(Object.keys(stored!).sort()).toEqual(
        ['_id', 'type', 'userId', 'actorId', 'ip', 'userAgent', 'email', 'details', 'createdAt'].sort(),
      );
      const json = JSON.stringify(stored);
      for (const secret of secrets) expect(json).not.toContain(secret);

      // The log lines for this event say which keys were dropped, never their values.
      const logged = lines.filter((l) => l.userId === userId);
      const dropped = logged.find((l) => l.msg === 'audit event details dropped');
      expect(dropped?.droppedKeys).toEqual(
        expect.arrayContaining(['password', 'Authorization', 'cookie', 'header', 'note', 'raw', 'nested', 'a.b']),
      );
      for (const secret of secrets) expect(JSON.stringify(logged)).not.toContain(secret);
    });

    it('caps the lengths of user agent, ip and detail text; drops an email over 254 characters rather than cut it', async () => {
      const userId = newId();
      record({
        type: AuditEventType.LOGIN_FAILED,
        userId,
        userAgent: 'u'.repeat(2000),
        email: `${'e'.repeat(300)}@example.com`,
        ip: '1'.repeat(100),
        details: { reason: 'r'.repeat(5000) },
      });
      await flushAuditEvents();
      const [stored] = await rawEvents({ userId });
      expect(stored!.userAgent).toHaveLength(512);
      // Cut to length it would be another address.
      expect(stored!.email).toBeNull();
      expect(stored!.ip).toHaveLength(64);
      expect(stored!.details.reason).toHaveLength(512);
    });

    it('stores `email` only when it is an email address (normalised as at sign-up), otherwise nothing', async () => {
      const longest = `${'e'.repeat(242)}@example.com`;
      const cases: Array<[string, string | null]> = [
        [' Someone@Example.COM ', 'someone@example.com'],
        [longest, longest],
        ['My-Real-Pass-Phrase-7781', null],
        ['not an email@example.com', null],
        ['someone@', null],
      ];
      const ids = cases.map(() => newId());
      cases.forEach(([email], i) => record({ type: AuditEventType.LOGIN_FAILED, userId: ids[i], email }));
      await flushAuditEvents();
      for (const [i, [, expected]] of cases.entries()) {
        const [stored] = await rawEvents({ userId: ids[i] });
        expect(stored!.email).toBe(expected);
      }
      const json = JSON.stringify(await rawEvents()).toLowerCase();
      expect(json).not.toContain('my-real-pass-phrase');
    });

    it('logs every event at warn (alerting types) or info, with the type and ids', async () => {
      const userId = newId();
      const actorId = newId();
      const expected: Record<string, 'warn' | 'info'> = {
        LOGIN_FAILED: 'warn',
        ACCOUNT_LOCKED: 'warn',
        REFRESH_TOKEN_REUSED: 'warn',
        USER_DISABLED: 'warn',
        PASSWORD_RESET: 'warn',
        EMAIL_CHANGED: 'warn',
        EMAIL_VERIFIED: 'info',
        USER_DELETED: 'info',
        LOGIN_SUCCEEDED: 'info',
        ACCOUNT_UNLOCKED: 'info',
        SESSION_REVOKED: 'info',
        LOGGED_OUT_ALL: 'info',
        PASSWORD_CHANGED: 'info',
        ROLE_CHANGED: 'info',
        USER_ENABLED: 'info',
        API_KEY_CREATED: 'info',
        API_KEY_REVOKED: 'info',
        MFA_ENABLED: 'info',
        MFA_DISABLED: 'warn',
        MFA_RECOVERY_CODE_USED: 'warn',
        MFA_RECOVERY_CODES_REGENERATED: 'warn',
        PASSKEY_ADDED: 'info',
        PASSKEY_REMOVED: 'info',
        PASSKEY_CLONE_SUSPECTED: 'warn',
        SIGN_IN_CODE_SENT: 'info',
        REAUTHENTICATED: 'info',
        IDENTITY_LINKED: 'info',
        IDENTITY_UNLINKED: 'info',
        ORG_CREATED: 'info',
        ORG_DELETED: 'info',
        MEMBER_INVITED: 'info',
        MEMBER_JOINED: 'info',
        MEMBER_ROLE_CHANGED: 'info',
        MEMBER_REMOVED: 'info',
      };
      expect(Object.keys(expected).sort()).toEqual(Object.values(AuditEventType).sort());
      for (const type of Object.values(AuditEventType)) record({ type, userId, actorId });

      const logged = lines.filter((l) => l.userId === userId);
      expect(logged).toHaveLength(Object.keys(expected).length);
      for (const line of logged) {
        const type = String(line.audit);
        expect({ type, level: line.level }).toEqual({ type, level: PINO_LEVEL[expected[type]!] });
        expect(line).toMatchObject({
          actorId,
          msg: `audit: ${type}`,
          auditId: expect.stringMatching(/^[0-9a-f]{24}$/),
        });
      }
      await flushAuditEvents();
      // The log line and the stored event share the id, so one leads to the other.
      const stored = await rawEvents({ userId });
      expect(stored.map((d) => String(d._id)).sort()).toEqual(logged.map((l) => l.auditId).sort());
    });

    it('returns at once and never throws when the write fails validation; the failure is logged', async () => {
      const before = lines.length;
      const bad = [
        { type: 'NOT_A_TYPE' as AuditEventType, userId: newId() },
        { type: AuditEventType.LOGIN_FAILED, userId: 'not-an-id' },
        { type: AuditEventType.ROLE_CHANGED, userId: newId(), actorId: '12345' },
      ];
      for (const event of bad) {
        // Nothing to wait for, and nothing failed yet: the write happens after the call returns.
        expect(recordAuditEvent(event, logger)).toBeUndefined();
        expect(lines.slice(before).some((l) => l.msg === 'audit event not stored')).toBe(false);
      }
      await flushAuditEvents();
      const failures = lines.slice(before).filter((l) => l.msg === 'audit event not stored');
      expect(failures.map((l) => l.level)).toEqual([50, 50, 50]);
      expect(failures.map((l) => l.audit)).toEqual(['NOT_A_TYPE', 'LOGIN_FAILED', 'ROLE_CHANGED']);
      expect(failures.map((l) => (l.err as { type?: string }).type)).toEqual([
        'ValidationError',
        'ValidationError',
        'ValidationError',
      ]);
      expect(await rawEvents({ type: 'NOT_A_TYPE' })).toEqual([]);
      expect(await rawEvents({ userId: 'not-an-id' })).toEqual([]);
    });

    it('never throws for a malformed call or a logger that throws', () => {
      const throwing = new Proxy({} as Logger, {
        get: () => () => {
          throw new Error('log stream broken');
        },
      });
      expect(() => recordAuditEvent(null as unknown as AuditEventInput, logger)).not.toThrow();
      expect(lines.at(-1)).toMatchObject({ level: 50, msg: 'audit event not recorded' });
      expect(() => recordAuditEvent({ type: AuditEventType.LOGIN_FAILED, userId: newId() }, throwing)).not.toThrow();
      const hostile = {
        type: AuditEventType.LOGIN_FAILED,
        get details(): Record<string, string> {
          throw new Error('getter exploded');
        },
      };
      expect(() => recordAuditEvent(hostile, logger)).not.toThrow();
    });
  });

  describe('deleteExpiredAuditEvents', () => {
    it('removes events older than the retention and keeps newer ones', async () => {
      const userId = newId();
      const now = Date.now();
      const [old, recent] = await AuditEventModel.create([
        { type: AuditEventType.LOGIN_FAILED, userId, createdAt: new Date(now - 91 * DAY) },
        { type: AuditEventType.LOGIN_FAILED, userId, createdAt: new Date(now - 89 * DAY) },
      ]);
      expect(await deleteExpiredAuditEvents(90)).toBeGreaterThanOrEqual(1);
      const left = (await rawEvents({ userId })).map((d) => String(d._id));
      expect(left).toEqual([String(recent!._id)]);
      expect(left).not.toContain(String(old!._id));
    });
  });
});

describe('audit housekeeping', () => {
  it('deletes expired events on the housekeeping timer (AUDIT_RETENTION_DAYS)', async () => {
    const t = await startTestServer({ AUDIT_RETENTION_DAYS: '1', SESSION_CLEANUP_INTERVAL_SECONDS: '1' });
    try {
      const userId = newId();
      const now = Date.now();
      const [, recent] = await AuditEventModel.create([
        { type: AuditEventType.LOGIN_FAILED, userId, createdAt: new Date(now - 2 * DAY) },
        { type: AuditEventType.LOGIN_FAILED, userId, createdAt: new Date(now - DAY / 2) },
      ]);
      const deadline = Date.now() + 10_000;
      while ((await rawEvents({ userId })).length > 1 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
      }
      expect((await rawEvents({ userId })).map((d) => String(d._id))).toEqual([String(recent!._id)]);
    } finally {
      await t.stop();
    }
  });
});

/**
 * Against its own database engine. The test replaces it with a listener that accepts connections
 * and never answers (a hung database): the driver waits for a server for ~3 s before the write
 * fails, which is exactly what a request must never wait for.
 */
describe('recordAuditEvent while the database hangs', () => {
  const { logger, lines } = memoryLogger();
  let dataDir: string;
  let port: number;
  let engine: RunningFerretdb | undefined;
  let blackHole: net.Server | undefined;
  const sockets = new Set<net.Socket>();
  let t: TestServer;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'api-audit-'));
    port = await freePort();
    engine = await startFerretdb(dataDir, pino({ level: 'silent' }), port);
    t = await startTestServer({ MONGODB_URI: withDatabaseName(engine.uri, 'audit') }, logger);
  }, 60_000);
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((r) => (blackHole ? blackHole.close(r) : r(undefined)));
    await t?.stop().catch(() => undefined);
    await engine?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('returns at once and logs the event; the write fails in the background and is logged', async () => {
    await engine!.stop();
    engine = undefined;
    blackHole = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((r) => blackHole!.listen(port, '127.0.0.1', r));

    const userId = newId();
    // Synchronous: it returns nothing to wait for, and the log line is already written when it
    // returns (no await in between), so log-based alerting works without the database.
    expect(recordAuditEvent({ type: AuditEventType.REFRESH_TOKEN_REUSED, userId }, logger)).toBeUndefined();
    expect(lines.find((l) => l.userId === userId && l.msg === 'audit: REFRESH_TOKEN_REUSED')?.level).toBe(40);
    expect(lines.some((l) => l.userId === userId && l.msg === 'audit event not stored')).toBe(false);

    // The write fails in the background once the driver gives up on the database, and says so.
    await flushAuditEvents(30_000);
    const failure = lines.find((l) => l.userId === userId && l.msg === 'audit event not stored');
    expect(failure).toMatchObject({ level: 50, audit: 'REFRESH_TOKEN_REUSED' });
  }, 45_000);

  it('stores events again once the database is back', async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((r) => blackHole!.close(r));
    blackHole = undefined;
    engine = await startFerretdb(dataDir, pino({ level: 'silent' }), port);
    const userId = newId();
    const deadline = Date.now() + 20_000;
    while ((await rawEvents({ userId }).catch(() => [])).length === 0 && Date.now() < deadline) {
      recordAuditEvent({ type: AuditEventType.LOGIN_SUCCEEDED, userId }, logger);
      await flushAuditEvents();
    }
    expect((await rawEvents({ userId }))[0]).toMatchObject({ type: 'LOGIN_SUCCEEDED', userId });
  }, 30_000);
});
