import type { HeldAuthentication } from '../auth/auth.context';
import type { BearerRefusal } from '../auth/auth.service';
import { AUTH_EVENTS_CHANNEL, type AuthChangeMessage } from '../infra/auth-events';
import type { AuthUser } from '../core/context';
import type { Config } from '../core/config';
import type { EventBus } from '../infra/events';
import type { Logger } from '../core/logger';

/**
 * Close codes. 4401 (and 4403, which graphql-ws sends itself) are graphql-ws's own (clients do not retry 4401: they must sign in
 * or refresh first); 1013 ("try again later") and 1001 ("going away") are retried by graphql-ws
 * clients with backoff. The close reason is a stable code clients can branch on.
 */
export const Close = {
  UNAUTHORIZED: 4401,
  TOO_MANY: 4429,
  TRY_AGAIN_LATER: 1013,
  GOING_AWAY: 1001,
  INTERNAL: 1011,
} as const;

/** The longest a revoked credential may keep a socket open when nobody announced the revocation. */
const MAX_STALE_SECONDS = 30;

/** A WebSocket's signed-in caller, kept current for as long as the socket is open. */
export class RealtimeConnection {
  /** Closed, or about to be: no more events are delivered. */
  closed = false;
  /** The connection's live subscription streams; all of them end when it closes. */
  readonly streams = new Set<{ finish(): unknown }>();
  private checking: Promise<void> | undefined;
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly held: HeldAuthentication,
    private readonly closeSocket: (code: number, reason: string) => void,
    readonly logger: Logger,
    recheckSeconds: number,
    private readonly checks: CredentialChecks,
  ) {
    this.user = held.user;
    if (held.expiresAt !== null) {
      const expire = setTimeout(() => this.close(Close.UNAUTHORIZED, 'TOKEN_EXPIRED'), held.expiresAt - Date.now());
      this.timers.push(expire);
    }
    // The backstop for changes nobody announced (a write straight to the database, a lost
    // message): each connection checks again on its own clock, so the checks are spread out.
    const recheck = setInterval(() => void this.revalidate(), recheckSeconds * 1000);
    this.timers.push(recheck);
    for (const timer of this.timers) timer.unref();
  }

  /** The caller as last checked: role and verification status come from the database. */
  user: AuthUser;

  get method(): 'bearer' | 'basic' {
    return this.held.method;
  }

  /**
   * Checks the credential again (the same check as an HTTP request's) and closes the socket if
   * it no longer stands. Concurrent calls share one check, and so do the connections holding the
   * same credential. After a revocation notice (`notice`), only a check made for that notice
   * counts. A database hiccup keeps the socket: the next check decides.
   */
  revalidate(notice: number | null = null): Promise<void> {
    if (this.closed) return Promise.resolve();
    // A check already running may have read the database before the change a notice announces.
    if (this.checking && notice === null) return this.checking;
    const checking: Promise<void> = this.checks
      .check(this.held, notice)
      .then((result) => {
        if (typeof result === 'string') this.close(Close.UNAUTHORIZED, result);
        // An older check answering late must not undo what a newer one found.
        else if (this.checking === checking) this.user = result;
      })
      .catch((err: unknown) => this.logger.warn({ err }, 'realtime: could not check a connection again'))
      .finally(() => {
        if (this.checking === checking) this.checking = undefined;
      });
    this.checking = checking;
    return checking;
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.dispose();
    this.closeSocket(code, reason);
  }

  /** Stops the timers (the socket is gone). */
  dispose(): void {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    for (const stream of [...this.streams]) stream.finish();
  }
}

/**
 * Credential checks shared by the connections that hold the same credential (a user's tabs, or a
 * thousand sockets of one service account): one database check per credential per period, not
 * one per socket. A fresh check (after a notice) never reuses an earlier answer.
 */
export class CredentialChecks {
  private readonly recent = new Map<
    string,
    { at: number; notice: number | null; result: Promise<AuthUser | BearerRefusal> }
  >();

  /**
   * How old a shared answer may be. A connection checks every period, so an answer reused at its
   * check is at most period + this old: half a period, but never past 30 s in all (the promise to
   * clients whose revocation was not announced).
   */
  private readonly reuseMs: number;

  constructor(recheckSeconds: number) {
    this.reuseMs = Math.max(0, Math.min(recheckSeconds / 2, MAX_STALE_SECONDS - recheckSeconds)) * 1000;
  }

  /** `notice`: the revocation notice this check answers (only checks made for it are shared), or null. */
  check(held: HeldAuthentication, notice: number | null): Promise<AuthUser | BearerRefusal> {
    const now = Date.now();
    const last = this.recent.get(held.key);
    const reusable = last && (notice !== null ? last.notice === notice : now - last.at < this.reuseMs);
    if (reusable) return last.result;
    const result = held.revalidate();
    this.recent.set(held.key, { at: now, notice, result });
    const forget = () => {
      setTimeout(() => {
        if (this.recent.get(held.key)?.result === result) this.recent.delete(held.key);
      }, this.reuseMs).unref();
    };
    result.then(forget, forget);
    return result;
  }
}

/**
 * The open connections of this instance by user: the per-user limit, and a re-check of every
 * connection of a user when any instance says that user's sessions or account changed.
 */
export class ConnectionRegistry {
  private readonly byUser = new Map<string, Set<RealtimeConnection>>();
  private readonly unsubscribe: () => void;
  private notices = 0;
  readonly checks: CredentialChecks;

  constructor(
    bus: EventBus,
    private readonly config: Config['realtime'],
  ) {
    this.checks = new CredentialChecks(config.authRecheckSeconds);
    this.unsubscribe = bus.subscribe(AUTH_EVENTS_CHANNEL, (message) => {
      const { userId } = (message ?? {}) as Partial<AuthChangeMessage>;
      if (typeof userId !== 'string') return;
      const notice = ++this.notices;
      for (const connection of this.byUser.get(userId) ?? []) void connection.revalidate(notice);
    });
  }

  /** False when the user already has the most connections allowed. */
  add(connection: RealtimeConnection): boolean {
    let set = this.byUser.get(connection.user.id);
    if (!set) this.byUser.set(connection.user.id, (set = new Set()));
    if (set.size >= this.config.maxConnectionsPerUser) return false;
    set.add(connection);
    return true;
  }

  remove(connection: RealtimeConnection): void {
    const set = this.byUser.get(connection.user.id);
    if (!set) return;
    set.delete(connection);
    if (set.size === 0) this.byUser.delete(connection.user.id);
  }

  closeAll(code: number, reason: string): void {
    for (const set of [...this.byUser.values()]) for (const connection of [...set]) connection.close(code, reason);
  }

  stop(): void {
    this.unsubscribe();
  }
}
