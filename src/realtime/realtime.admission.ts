import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { clientKey } from '../core/client-ip';
import type { Config } from '../core/config';
import type { Logger } from '../core/logger';
import { originAllowed } from '../http/security';

/** Where subscriptions are served: the same path as Apollo's HTTP endpoint. */
const PATH = '/graphql';

type Limits = Pick<Config['realtime'], 'maxUnauthenticatedPerIp' | 'maxUnauthenticated' | 'connectionInitTimeoutMs'>;

/**
 * Sockets that have not finished connection_init, counted per client address and in all. Such a
 * socket costs memory and a descriptor until the init timeout, and anyone can open one: past
 * either cap the upgrade is refused before a WebSocket is set up. A socket leaves the count when
 * it is authenticated (`authenticated`, at the connection_ack) or when its TCP socket closes,
 * whichever comes first, and only once: a close before init, a refused init, the init timeout and
 * a shutdown all end in the TCP socket's close.
 */
export class UnauthenticatedSockets {
  private readonly byKey = new Map<string, number>();
  private readonly held = new WeakMap<IncomingMessage, () => void>();
  private count = 0;
  /** For a refusal's Retry-After: a slot frees at the latest when the init timeout closes a silent socket. */
  readonly retryAfterSeconds: number;

  constructor(private readonly limits: Limits) {
    this.retryAfterSeconds = Math.ceil(limits.connectionInitTimeoutMs / 1000);
  }

  /** Sockets counted now. */
  get size(): number {
    return this.count;
  }

  /**
   * Counts the socket of an upgrade from `ip` (the client address as HTTP reads it) until it is
   * authenticated or closes. False, and nothing counted, when the address (IPv4 address, IPv6 /64)
   * or the instance already has as many as allowed.
   */
  admit(request: IncomingMessage, socket: Duplex, ip: string): boolean {
    const key = clientKey(ip);
    const forKey = this.byKey.get(key) ?? 0;
    if (forKey >= this.limits.maxUnauthenticatedPerIp || this.count >= this.limits.maxUnauthenticated) return false;
    this.byKey.set(key, forKey + 1);
    this.count++;
    let counted = true;
    const release = () => {
      if (!counted) return;
      counted = false;
      this.count--;
      const left = (this.byKey.get(key) ?? 1) - 1;
      if (left > 0) this.byKey.set(key, left);
      else this.byKey.delete(key);
      this.held.delete(request);
      socket.off('close', release);
    };
    this.held.set(request, release);
    socket.once('close', release);
    // Closed already (a client gone before the upgrade event): no close event will come.
    if (socket.destroyed) release();
    return true;
  }

  /** The socket of `request` finished connection_init: it no longer counts. */
  authenticated(request: IncomingMessage): void {
    this.held.get(request)?.();
  }
}

/** Refuses an upgrade with a plain HTTP answer (the socket is not a WebSocket yet). */
function refuseUpgrade(socket: Duplex, status: number, text: string, headers = ''): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n${headers}\r\n`);
}

export interface UpgradeGate {
  config: Pick<Config, 'http'>;
  logger: Logger;
  unauthenticated: UnauthenticatedSockets;
  /** The client address of a request, as HTTP reads it (TRUST_PROXY applied). */
  ipOf(request: IncomingMessage): string;
  /** False once the server drains: new sockets are refused while the open ones are served. */
  accepting(): boolean;
  /** Sets up the WebSocket of an admitted upgrade. */
  accept(request: IncomingMessage, socket: Duplex, head: Buffer): void;
}

/**
 * The HTTP server's `upgrade` listener: only `/graphql`, only while accepting, only from an
 * allowed Origin, and within the caps on sockets not yet signed in. Anything else is refused
 * before a WebSocket is set up.
 */
export function upgradeListener(gate: UpgradeGate): (request: IncomingMessage, socket: Duplex, head: Buffer) => void {
  const { config, logger, unauthenticated } = gate;
  return (request, socket, head) => {
    socket.on('error', () => socket.destroy());
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (url.pathname !== PATH) return refuseUpgrade(socket, 404, 'Not Found');
    if (!gate.accepting()) return refuseUpgrade(socket, 503, 'Service Unavailable');
    // Browsers send cookies with a WebSocket upgrade and no preflight: the Origin is the check.
    if (!originAllowed(config, request.headers.origin, request.headers.host)) {
      logger.info({ origin: request.headers.origin }, 'realtime: upgrade from a refused origin');
      return refuseUpgrade(socket, 403, 'Forbidden');
    }
    // Refused here, before a WebSocket is set up: a socket without connection_init costs until the timeout.
    if (!unauthenticated.admit(request, socket, gate.ipOf(request))) {
      logger.debug({ unauthenticated: unauthenticated.size }, 'realtime: upgrade over the unauthenticated socket caps');
      return refuseUpgrade(socket, 429, 'Too Many Requests', `Retry-After: ${unauthenticated.retryAfterSeconds}\r\n`);
    }
    gate.accept(request, socket, head);
  };
}
