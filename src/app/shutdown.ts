import type http from 'node:http';
import type { ApolloServer } from '@apollo/server';
import type { Config } from '../core/config';
import type { Context } from '../core/context';
import { disconnectDatabase } from '../infra/db';
import type { EventBus } from '../infra/events';
import type { RealtimeServer } from '../realtime/realtime.server';
import { flushModules, type BackgroundWork } from './background';
import { closeHttpServer } from './http-app';
import { stopEventBus, type RunningMetrics } from './lifecycle';

/** One step of a stop, named for what it does. */
export interface ShutdownStep {
  readonly name: string;
  run(): unknown;
}

/** Runs the steps one after the other; a failing step ends the stop with its error. */
export async function runShutdown(steps: readonly ShutdownStep[]): Promise<void> {
  for (const step of steps) await step.run();
}

/** What a running server stops. */
export interface Running {
  config: Config;
  /** Makes `/ready` answer 503. */
  startDraining(): void;
  realtime: RealtimeServer;
  background: BackgroundWork;
  apollo: ApolloServer<Context>;
  httpServer: http.Server;
  bus: EventBus;
  monitoring: RunningMetrics;
}

/**
 * The order of a stop: new work is turned away first, then what is running finishes, then what
 * it writes to is closed, the metrics last.
 */
export function shutdownOrder(running: Running): ShutdownStep[] {
  const { config, realtime, background } = running;
  return [
    { name: 'report draining', run: () => running.startDraining() },
    // A new socket would only be closed again in a moment: send it elsewhere now.
    { name: 'refuse new sockets', run: () => realtime.drain() },
    { name: 'stop housekeeping', run: () => background.stopHousekeeping() },
    // Keep accepting for a moment while /ready says 503, so load balancers stop routing here.
    { name: 'drain delay', run: () => delay(config.shutdownDelayMs) },
    // Subscribers reconnect elsewhere (1001); the HTTP server can then close.
    { name: 'close sockets', run: () => realtime.close() },
    // Stops accepting connections, lets in-flight requests finish within the grace period.
    { name: 'stop apollo', run: () => running.apollo.stop() },
    { name: 'close the HTTP server', run: () => closeHttpServer(running.httpServer) },
    { name: 'flush modules', run: () => flushModules(config) },
    // Background work (the mail worker) stops, the last started first.
    { name: 'stop jobs', run: () => background.stopJobs() },
    { name: 'disconnect the database', run: disconnectDatabase },
    { name: 'close the event bus', run: () => stopEventBus(running.bus) },
    { name: 'stop metrics', run: () => running.monitoring.stop() },
  ];
}

async function delay(ms: number): Promise<void> {
  if (ms > 0) await new Promise((r) => setTimeout(r, ms));
}
