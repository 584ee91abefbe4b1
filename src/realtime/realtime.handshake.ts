import { GraphQLError } from 'graphql';
import type { Authenticator, HeldAuthentication } from '../auth/auth.context';
import type { Config } from '../core/config';
import { isDatabaseUnavailable, isQueryTimeout } from '../core/errors';
import type { EventBus } from '../infra/events';
import type { ClientInfo } from '../http/http';
import type { UnauthenticatedSockets } from './realtime.admission';
import { Close, RealtimeConnection, type ConnectionRegistry } from './realtime.connection';
import type { SocketContext, SocketExtra } from './realtime.socket';

export interface HandshakeDeps {
  limits: Config['realtime'];
  bus: EventBus;
  authenticate: Authenticator;
  registry: ConnectionRegistry;
  unauthenticated: UnauthenticatedSockets;
  /** The client behind an upgrade request, as HTTP reads it (TRUST_PROXY applied). */
  clientOf(request: SocketExtra['request']): ClientInfo;
}

/** The credential a client sends in connection_init: `{ authorization: "Bearer …" }` (any case). */
function authorizationOf(params: Readonly<Record<string, unknown>> | undefined): string | undefined {
  if (!params) return undefined;
  for (const [key, value] of Object.entries(params)) {
    if (key.toLowerCase() === 'authorization' && typeof value === 'string') return value;
  }
  return undefined;
}

function refuse(ctx: SocketContext, code: number, reason: string): false {
  ctx.extra.logger.debug({ code, reason }, 'realtime: connection refused');
  ctx.extra.socket.close(code, reason);
  return false;
}

/** A refused credential's close code and reason; the database away is "try again later". */
function refusal(ctx: SocketContext, err: unknown): false {
  const code = err instanceof GraphQLError ? String(err.extensions.code) : undefined;
  if (code === 'UNAUTHENTICATED') {
    const reason = err instanceof GraphQLError ? err.extensions.reason : undefined;
    return refuse(ctx, Close.UNAUTHORIZED, typeof reason === 'string' ? reason : 'UNAUTHENTICATED');
  }
  if (code === 'TOO_MANY_REQUESTS') return refuse(ctx, Close.TOO_MANY, 'TOO_MANY_REQUESTS');
  if (code === 'SERVICE_UNAVAILABLE' || isDatabaseUnavailable(err) || isQueryTimeout(err))
    return refuse(ctx, Close.TRY_AGAIN_LATER, 'SERVICE_UNAVAILABLE');
  ctx.extra.logger.error({ err }, 'realtime: authentication failed unexpectedly');
  return refuse(ctx, Close.INTERNAL, 'INTERNAL_SERVER_ERROR');
}

/** Keeps the checked caller on the socket, unless the caps on connections refuse it. */
function register(deps: HandshakeDeps, ctx: SocketContext, held: HeldAuthentication): boolean {
  const { extra } = ctx;
  const connection = new RealtimeConnection(
    held,
    (code, reason) => extra.socket.close(code, reason),
    extra.logger,
    deps.limits.authRecheckSeconds,
    deps.registry.checks,
  );
  if (!deps.registry.add(connection)) {
    connection.dispose();
    return refuse(ctx, Close.TOO_MANY, 'TOO_MANY_CONNECTIONS');
  }
  extra.connection = connection;
  deps.unauthenticated.authenticated(extra.request);
  extra.logger.debug({ userId: held.user.id, method: held.method }, 'realtime: connection accepted');
  return true;
}

/**
 * graphql-ws's `onConnect`: connection_init must carry a credential, which is checked as an
 * HTTP request's would be and then held (and checked again) for as long as the socket is open.
 * A refusal closes the socket with a code and a reason clients can branch on.
 */
export function connectionInit(deps: HandshakeDeps): (ctx: SocketContext) => Promise<boolean> {
  return async (ctx) => {
    const { extra } = ctx;
    const header = authorizationOf(ctx.connectionParams);
    if (header === undefined) return refuse(ctx, Close.UNAUTHORIZED, 'AUTHENTICATION_REQUIRED');
    // Without the bus no event could arrive: the client should come back later, or elsewhere.
    if (!deps.bus.up) return refuse(ctx, Close.TRY_AGAIN_LATER, 'EVENTS_UNAVAILABLE');
    let held: HeldAuthentication;
    try {
      held = await deps.authenticate.hold(header, deps.clientOf(extra.request), extra.logger);
    } catch (err) {
      return refusal(ctx, err);
    }
    if (extra.socket.readyState !== extra.socket.OPEN) return false;
    return register(deps, ctx, held);
  };
}
