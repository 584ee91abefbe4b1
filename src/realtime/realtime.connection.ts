import type { HeldAuthentication } from '../auth/auth.context';
import { AUTH_EVENTS_CHANNEL, type AuthChangeMessage } from '../auth/auth.events';
import type { AuthUser } from '../context';
import type { Config } from '../core/config';
import type { EventBus } from '../core/events';
import type { Logger } from '../core/logger';

/**
 * Close codes. 4401 and 4403 are graphql-ws's own (clients do not retry 4401: they must sign in
 * or refresh first); 1013 ("try again later") and 1001 ("going away") are retried by graphql-ws
 * clients with backoff. The close reason is a stable code clients can branch on.
 */
export const Close = {
  UNAUTHORIZED: 4401,
  FORBIDDEN: 4403,
  TOO_MANY: 4429,
  TRY_AGAIN_LATER: 1013,
  GOING_AWAY: 1001,
  INTERNAL: 1011,
} as const;

/** A WebSocket's signed-in caller, kept current for as long as the socket is open. */
export class RealtimeConnection {
  /** Closed, or about to be: no more events are delivered. */
  closed = false;
  private checking: Promise<void> | undefined;
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly held: HeldAuthentication,
    private readonly closeSocket: (code: number, reason: string) => void,
    readonly logger: Logger,
    recheckSeconds: number,
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
   * it no longer stands. Concurrent calls share one check. A database hiccup keeps the socket:
   * the next check decides.
   */
  revalidate(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.checking ??= this.held
      .revalidate()
      .then((result) => {
        if (typeof result === 'string') this.close(Close.UNAUTHORIZED, result);
        else this.user = result;
      })
      .catch((err: unknown) => this.logger.warn({ err }, 'realtime: could not check a connection again'))
      .finally(() => {
        this.checking = undefined;
      });
    return this.checking;
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
  }
}

/**
 * The open connections of this instance by user: the per-user limit, and a re-check of every
 * connection of a user when any instance says that user's sessions or account changed.
 */
export class ConnectionRegistry {
  private readonly byUser = new Map<string, Set<RealtimeConnection>>();
  private readonly unsubscribe: () => void;

  constructor(
    bus: EventBus,
    private readonly config: Config['realtime'],
  ) {
    this.unsubscribe = bus.subscribe(AUTH_EVENTS_CHANNEL, (message) => {
      const { userId } = (message ?? {}) as Partial<AuthChangeMessage>;
      if (typeof userId !== 'string') return;
      for (const connection of this.byUser.get(userId) ?? []) void connection.revalidate();
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

  get size(): number {
    let n = 0;
    for (const set of this.byUser.values()) n += set.size;
    return n;
  }

  closeAll(code: number, reason: string): void {
    for (const set of [...this.byUser.values()]) for (const connection of [...set]) connection.close(code, reason);
  }

  stop(): void {
    this.unsubscribe();
  }
}
