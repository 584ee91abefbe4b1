import { startInstance, stopAllInstances, type Instance } from './instance';
import { eventually, readiness } from './realtime';
import { startRedis, type RunningRedis } from './redis';
import { startTestServer, type TestServer } from './server';
import { connectWs, type RawClient } from './ws';

/**
 * Two API instances sharing one real Redis and one database: A runs in the test process, B is
 * `src/index.ts` in a child process (one createServer per process), so events and notices
 * published on either reach the sockets of the other. Both are subscribed to Redis before it
 * answers. Sockets opened with `connect` (or handed to `keep`) are closed by `closeSockets`.
 */
export interface InstancePair {
  redis: RunningRedis;
  a: TestServer;
  b: Instance;
  connect(url: string, token: string): Promise<RawClient>;
  keep(ws: RawClient): RawClient;
  closeSockets(): void;
  stop(): Promise<void>;
}

export async function startInstancePair(env: Record<string, string>): Promise<InstancePair> {
  const open: RawClient[] = [];
  const redis = await startRedis();
  const shared = { REDIS_URL: redis.url, ...env };
  const a = await startTestServer(shared);
  const b = await startInstance({ ...shared, MONGODB_URI: a.config.mongodbUri!, JWT_SECRET: a.config.jwt.secret });
  for (const url of [a.url, b.url])
    await eventually(async () => (await readiness(url)).body.events === 'up', `events up on ${url}`);
  const keep = (ws: RawClient) => {
    open.push(ws);
    return ws;
  };
  return {
    redis,
    a,
    b,
    keep,
    connect: async (url, token) => keep(await connectWs(url, `Bearer ${token}`)),
    closeSockets: () => {
      for (const c of open.splice(0)) c.close();
    },
    stop: async () => {
      await b.stop().catch(() => undefined);
      await stopAllInstances();
      await a.stop();
      await redis.stop();
    },
  };
}
