/**
 * The process's event bus: features publish what happened after it is committed, and the
 * real-time feature fans it out. In-process by default; with REDIS_URL, messages travel through
 * Redis pub/sub so every instance sees every instance's events (src/infra/redis-events.ts).
 *
 * Publishing never throws and never waits: a mutation must not fail or slow down because a
 * subscriber or Redis is unwell.
 */

export type EventHandler = (message: unknown) => void;

export interface EventBus {
  readonly kind: 'local' | 'redis';
  /** False while the bus cannot deliver (Redis away): subscribers are told to reconnect. */
  readonly up: boolean;
  publish(channel: string, message: object): void;
  subscribe(channel: string, handler: EventHandler): () => void;
  /** Called with each change of `up`. */
  onStatus(listener: (up: boolean) => void): () => void;
  /** Messages that could not be published (logged as well). */
  readonly publishFailures: number;
  close(): Promise<void>;
}

/** Handlers by channel, shared by both buses for the delivery inside one process. */
export class Dispatcher {
  private readonly handlers = new Map<string, Set<EventHandler>>();

  subscribe(channel: string, handler: EventHandler): () => void {
    let set = this.handlers.get(channel);
    if (!set) this.handlers.set(channel, (set = new Set()));
    set.add(handler);
    return () => {
      set.delete(handler);
      if (set.size === 0 && this.handlers.get(channel) === set) this.handlers.delete(channel);
    };
  }

  channels(): string[] {
    return [...this.handlers.keys()];
  }

  dispatch(channel: string, message: unknown, onError: (err: unknown) => void): void {
    const set = this.handlers.get(channel);
    if (!set) return;
    for (const handler of [...set]) {
      try {
        handler(message);
      } catch (err) {
        onError(err);
      }
    }
  }
}

/**
 * Delivery inside this process, on the next turn of the event loop (so a publisher's own
 * response is never delayed by subscribers), in publication order.
 */
export function localEventBus(): EventBus {
  const dispatcher = new Dispatcher();
  return {
    kind: 'local',
    up: true,
    publishFailures: 0,
    publish(channel, message) {
      // A copy, as Redis would deliver it: no subscriber can see a later change to the object.
      const copy: unknown = JSON.parse(JSON.stringify(message));
      setImmediate(() => dispatcher.dispatch(channel, copy, () => undefined));
    },
    subscribe: (channel, handler) => dispatcher.subscribe(channel, handler),
    onStatus: () => () => undefined,
    close: async () => undefined,
  };
}

let current: EventBus = localEventBus();

/** The bus this process publishes to. */
export function eventBus(): EventBus {
  return current;
}

/** Installs the bus `createServer` chose; returns the previous one. */
export function setEventBus(bus: EventBus): EventBus {
  const previous = current;
  current = bus;
  return previous;
}

/** Publishes on the current bus: fire and forget. */
export function publishEvent(channel: string, message: object): void {
  current.publish(channel, message);
}
