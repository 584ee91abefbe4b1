import type { Request, Response } from 'express';
import type { Config } from '../../src/core/config';
import { httpResponse, type AuthUser } from '../../src/core/context';
import type { Logger } from '../../src/core/logger';
import { createContextFactory } from '../../src/http/graphql-context';

const config = {} as Config;
const serverLogger = { name: 'server' } as unknown as Logger;
const alice: AuthUser = { id: 'a', email: 'a@example.com', role: 'USER' };

describe('createContextFactory (one context for HTTP and WebSocket)', () => {
  const build = createContextFactory(config, serverLogger);

  it('builds an HTTP context from the caller and the request', () => {
    const req = {} as Request;
    const res = {} as Response;
    const ctx = build({ user: alice, method: 'bearer' }, { req, res, requestId: 'r1' });
    expect([ctx.user, ctx.authMethod, ctx.account, ctx.requestId]).toEqual([alice, 'bearer', undefined, 'r1']);
    expect(ctx.config).toBe(config);
    expect(httpResponse(ctx)).toBe(res);
    expect(ctx.loaders.size).toBe(0);
  });

  it('logs with the request’s logger, else the server’s', () => {
    const requestLogger = { name: 'request' } as unknown as Logger;
    const withLog = build({ user: null, method: null }, { req: { log: requestLogger } as Request, requestId: 'r' });
    expect(withLog.logger).toBe(requestLogger);
    expect(build({ user: null, method: null }, { req: {} as Request, requestId: 'r' }).logger).toBe(serverLogger);
  });

  it('reads the caller at every access (a WebSocket connection re-checks it) and has no response', () => {
    const connection = { user: alice as AuthUser, method: 'bearer' as const };
    const ctx = build(connection, { req: {} as Request, requestId: 'ws:1' });
    connection.user = { ...alice, role: 'ADMIN' };
    expect(ctx.user?.role).toBe('ADMIN');
    expect(ctx.res).toBeUndefined();
    expect(() => httpResponse(ctx)).toThrow(/HTTP only/);
  });

  it('keeps the caller on a copy Apollo makes of the context', () => {
    const ctx = build({ user: alice, method: 'basic' }, { req: {} as Request, requestId: 'r' });
    const copy = Object.assign(Object.create(Object.getPrototypeOf(ctx) as object) as typeof ctx, ctx);
    expect([copy.user, copy.authMethod]).toEqual([alice, 'basic']);
  });
});
