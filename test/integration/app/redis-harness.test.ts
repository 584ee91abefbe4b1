import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { Redis } from 'ioredis';
import { startRedis, type RunningRedis } from '../../helpers/redis';

/** The harness the subscription tests rely on: a real redis-server, restartable on its port. */

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}

/**
 * Processes started for a server on `port`: the guard shell still has `--port <port>` in its
 * arguments, and redis-server retitles itself `redis-server 127.0.0.1:<port>`.
 */
function processesFor(port: number): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    if (cmdline.includes(`--port\0${port}\0`) || cmdline.includes(`127.0.0.1:${port}`)) {
      found.push(`${pid}: ${cmdline.replace(/\0/g, ' ')}`);
    }
  }
  return found;
}

/** Resolves with the next message on `channel`. */
function nextMessage(subscriber: Redis, channel: string): Promise<string> {
  return new Promise((resolve) => {
    const onMessage = (ch: string, message: string) => {
      if (ch !== channel) return;
      subscriber.off('message', onMessage);
      resolve(message);
    };
    subscriber.on('message', onMessage);
  });
}

/** Publishes until someone receives it: after a restart the subscriber resubscribes on its own time. */
async function publishUntilReceived(publisher: Redis, channel: string, message: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const receivers = await publisher.publish(channel, message).catch(() => 0);
    if (receivers > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`nobody subscribed to ${channel} within 15 s`);
}

describe('test/helpers/redis', () => {
  let redis: RunningRedis;
  const clients: Redis[] = [];
  const client = (url: string) => {
    const c = new Redis(url, { retryStrategy: () => 50 });
    c.on('error', () => undefined); // reconnect attempts while the server restarts
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    redis = await startRedis();
  });

  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await redis?.stop();
  });

  it('starts a real redis-server on a loopback port, with no persistence', async () => {
    expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`);
    const c = client(redis.url);
    const info = await c.info('server');
    expect(info).toMatch(/^redis_version:\d+\.\d+\.\d+/m);
    expect(info).toContain(`tcp_port:${redis.port}`);
    expect(info).toContain(`process_id:${redis.pid}`);
    expect(info).toMatch(/^config_file:\s*$/m);
    expect(await c.config('GET', 'save')).toEqual(['save', '']);
    expect(await c.config('GET', 'appendonly')).toEqual(['appendonly', 'no']);
    expect(await c.config('GET', 'bind')).toEqual(['bind', '127.0.0.1']);
  });

  it('carries a PUBLISH from one connection to a SUBSCRIBE on another', async () => {
    const subscriber = client(redis.url);
    const publisher = client(redis.url);
    await subscriber.subscribe('harness');
    const received = nextMessage(subscriber, 'harness');
    expect(await publisher.publish('harness', 'first')).toBe(1);
    await expect(received).resolves.toBe('first');
  });

  it('restarts on the same port, and a subscriber receives what is published after the restart', async () => {
    const subscriber = client(redis.url);
    const publisher = client(redis.url);
    await subscriber.subscribe('after-restart');
    const { port, pid } = redis;

    await redis.restart();

    expect(redis.port).toBe(port);
    expect(redis.pid).not.toBe(pid);
    expect(isAlive(pid)).toBe(false);
    // ioredis reconnects and subscribes again (autoResubscribe) without being told to.
    const received = nextMessage(subscriber, 'after-restart');
    await publishUntilReceived(publisher, 'after-restart', 'second');
    await expect(received).resolves.toBe('second');
    expect((await publisher.info('server')).match(/^process_id:(\d+)/m)![1]).toBe(String(redis.pid));
  });

  it('stop() ends the server process and frees its port', async () => {
    const other = await startRedis();
    const { pid, port } = other;
    expect(isAlive(pid)).toBe(true);
    expect(processesFor(port).length).toBeGreaterThan(0);

    await other.stop();

    expect(isAlive(pid)).toBe(false);
    expect(processesFor(port)).toEqual([]);
    const refused = await new Promise<string | undefined>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(undefined);
      });
      socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code));
    });
    expect(refused).toBe('ECONNREFUSED');
  });
});
