import pino from 'pino';
import { localEventBus } from '../../src/infra/events';
import { ITEM_EVENTS_CHANNEL, type ItemEventMessage } from '../../src/items/item.events';
import { ItemEventFeed, type DeliveredEvent } from '../../src/realtime/realtime.feed';

const ID = '0123456789abcdef01234567';
const OWNER = 'fedcba9876543210fedcba98';

function message(type: ItemEventMessage['type'], version: number): ItemEventMessage {
  const at = new Date().toISOString();
  const item =
    type === 'DELETED'
      ? null
      : {
          id: ID,
          name: `v${version}`,
          description: null,
          category: null,
          tags: [],
          price: null,
          quantity: 0,
          version,
          ownerId: OWNER,
          createdAt: at,
          updatedAt: at,
        };
  return { type, id: ID, version, actorId: OWNER, at, ownerId: OWNER, orgId: null, category: null, item };
}

/** Publishes on a real in-process bus and returns what one unfiltered subscriber received. */
async function deliver(messages: ItemEventMessage[]): Promise<string[]> {
  const bus = localEventBus();
  const feed = new ItemEventFeed(bus, pino({ level: 'silent' }));
  const got: string[] = [];
  feed.add({
    selector: { caller: { id: OWNER, email: 'o@example.com', role: 'USER' }, filter: {} },
    push: (e: DeliveredEvent) => got.push(`${e.message.type} v${e.message.version}`),
  });
  for (const m of messages) bus.publish(ITEM_EVENTS_CHANNEL, m);
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  feed.close();
  return got;
}

describe('ItemEventFeed: versions per item only go up', () => {
  it('drops an event that arrives after a later one of the same item', async () => {
    expect(await deliver([message('CREATED', 1), message('UPDATED', 3), message('UPDATED', 2)])).toEqual([
      'CREATED v1',
      'UPDATED v3',
    ]);
  });

  it('still sends a deletion that carries the version of a concurrent update, but only once', async () => {
    expect(
      await deliver([message('UPDATED', 2), message('DELETED', 2), message('DELETED', 2), message('UPDATED', 2)]),
    ).toEqual(['UPDATED v2', 'DELETED v2']);
  });
});
