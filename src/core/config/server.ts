import { z } from 'zod';
import { int, section } from './section';

/** The process: run mode, the public listener, logging and shutdown. Every other section may read these. */
export const server = section(
  {
    NODE_ENV: z
      .enum(['development', 'test', 'production'], { error: 'must be development, test or production' })
      .default('development'),
    PORT: int(0, 65535).default(4000),
    HOST: z.string().min(1, 'must not be empty').default('0.0.0.0'),
    LOG_LEVEL: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
        error: 'must be one of fatal, error, warn, info, debug, trace, silent',
      })
      .optional(),
    SHUTDOWN_TIMEOUT_MS: int(0, 120_000).default(10_000),
    SHUTDOWN_DELAY_MS: int(0, 60_000).default(0),
  },
  (v) => ({
    env: v.NODE_ENV,
    isProduction: v.NODE_ENV === 'production',
    port: v.PORT,
    host: v.HOST,
    logLevel: v.LOG_LEVEL ?? (v.NODE_ENV === 'test' ? 'silent' : 'info'),
    shutdownTimeoutMs: v.SHUTDOWN_TIMEOUT_MS,
    /** How long /ready answers 503 before the listener closes (for load balancers to notice). */
    shutdownDelayMs: v.SHUTDOWN_DELAY_MS,
  }),
);

export type ServerSettings = ReturnType<typeof server.build>;
