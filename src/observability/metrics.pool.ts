import type { mongo } from 'mongoose';
import type { Metrics } from './metrics.registry';

type ConnectionEvent = { address: string; connectionId: number | '<monitor>' };

/**
 * Pool pressure from the driver's connection-pool events (always emitted, unlike command
 * monitoring): connections in use, the wait for one, and checkouts that failed. Returns a
 * function that removes the listeners.
 */
export function watchPool(metrics: Metrics, client: mongo.MongoClient): () => void {
  // By connection, so a check-in of one checked out before the listeners were attached (mongoose
  // creates collections in the background while connecting) cannot push the gauge below zero.
  const checkedOut = new Set<string>();
  const key = (e: ConnectionEvent) => `${e.address}#${e.connectionId}`;
  const listeners = {
    connectionCheckedOut: (e: mongo.ConnectionCheckedOutEvent) => {
      checkedOut.add(key(e));
      metrics.poolCheckedOut.set(checkedOut.size);
      metrics.poolCheckoutWait.observe(e.durationMS / 1000);
    },
    connectionCheckedIn: (e: mongo.ConnectionCheckedInEvent) => {
      if (checkedOut.delete(key(e))) metrics.poolCheckedOut.set(checkedOut.size);
    },
    connectionCheckOutFailed: (e: mongo.ConnectionCheckOutFailedEvent) => {
      metrics.poolCheckoutWait.observe(e.durationMS / 1000);
      metrics.poolCheckoutFailures.inc({ reason: String(e.reason) });
    },
  };
  for (const [event, listener] of Object.entries(listeners)) client.on(event as 'connectionCheckedIn', listener);
  return () => {
    for (const [event, listener] of Object.entries(listeners)) client.off(event as 'connectionCheckedIn', listener);
  };
}
