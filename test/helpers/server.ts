import { randomBytes } from 'node:crypto';
import path from 'node:path';
import mongoose from 'mongoose';
import type { Logger } from 'pino';
import { loadConfig, type Config } from '../../src/core/config';
import { withDatabaseName } from '../../src/infra/db';
import type { MailWorkerOptions } from '../../src/mail/mail.worker';
import { createServer, type AppServer, type ServerOptions } from '../../src/app/server';
import { graphqlClient, type GraphQLClient } from './graphql';

export interface TestServer extends GraphQLClient {
  url: string;
  config: Config;
  server: AppServer;
  stop(): Promise<void>;
}

/** A name for this test file's own database, so files never see each other's data. */
export function testDatabaseName(): string {
  const file = path.basename(expect.getState().testPath ?? 'test', '.test.ts').replace(/[^A-Za-z0-9]/g, '_');
  return `t_${file}_${randomBytes(3).toString('hex')}`.slice(0, 60);
}

export function testConfig(env: Record<string, string> = {}): Config {
  const base = process.env.TEST_MONGODB_URI;
  if (!base)
    throw new Error('TEST_MONGODB_URI is not set: run the tests through jest (global setup starts the database)');
  return loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    JWT_SECRET: randomBytes(48).toString('base64url'),
    // The lowest cost bcrypt allows keeps the suite fast; production refuses anything below 10.
    BCRYPT_COST: '4',
    // Every request in the suite comes from 127.0.0.1; the rate-limit tests set their own limits.
    RATE_LIMIT_PER_IP: '1000000',
    RATE_LIMIT_PER_ACCOUNT: '1000000',
    // Suites create hundreds of items from one account; the item-limit tests set their own.
    WRITE_RATE_LIMIT_PER_USER: '1000000',
    // Suites read far more than a user would; the read-limit tests set their own.
    READ_RATE_LIMIT_PER_USER: '1000000',
    // Off: suites run servers side by side; test/integration/observability/metrics.test.ts serves them on a free port.
    METRICS_PORT: '0',
    MONGODB_URI: withDatabaseName(base, testDatabaseName()),
    // Mail goes to the log unless a test brings an SMTP server (test/helpers/mailbox.ts).
    ...(env.SMTP_URL ? {} : { MAIL_TRANSPORT: 'log' }),
    ...env,
  });
}

/** Short mail retries and polling, so outage and restart tests take a second, not minutes. */
export const TEST_MAIL_WORKER: MailWorkerOptions = { pollIntervalMs: 200, backoffBaseMs: 200, backoffMaxMs: 1000 };

/**
 * Starts the real server (same builder as `npm start`) on a loopback port: an ephemeral one, or
 * `port` when a test needs to know it up front (e.g. to make PUBLIC_URL the server's own URL).
 */
export async function startTestServer(
  env: Record<string, string> = {},
  logger?: Logger,
  { port = 0, ...options }: Omit<ServerOptions, 'logger'> & { port?: number } = {},
): Promise<TestServer> {
  const config = testConfig(env);
  const server = await createServer(config, { mail: TEST_MAIL_WORKER, ...options, logger });
  const url = await server.listen(port, '127.0.0.1');
  return {
    ...graphqlClient(url),
    url,
    config,
    server,
    async stop() {
      if (mongoose.connection.readyState === 1) await mongoose.connection.dropDatabase().catch(() => undefined);
      await server.stop();
    },
  };
}
