import pino from 'pino';
import { localEventBus } from '../../src/infra/events';
import { ITEM_EVENTS_CHANNEL, type ItemEventMessage } from '../../src/items/item.events';
import { MEMBERSHIP_CHANNEL } from '../../src/orgs/org.events';
import { ItemEventFeed, type DeliveredEvent, type EventSelector } from '../../src/realtime/realtime.feed';

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
    end: () => undefined,
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

const ORG = 'aaaaaaaaaaaaaaaaaaaaaaaa';
const OTHER_ORG = 'bbbbbbbbbbbbbbbbbbbbbbbb';
const ALICE = '111111111111111111111111';
const BOB = '222222222222222222222222';

/** A feed on a real in-process bus with one subscriber per selector; what each got and whether it ended. */
function feedWith(selectors: Record<string, { userId: string; filter: EventSelector['filter'] }>) {
  const bus = localEventBus();
  const feed = new ItemEventFeed(bus, pino({ level: 'silent' }));
  const got: Record<string, string[]> = {};
  const ended = new Set<string>();
  for (const [name, { userId, filter }] of Object.entries(selectors)) {
    got[name] = [];
    feed.add({
      selector: { caller: { id: userId, email: `${name}@example.com`, role: 'USER' }, filter },
      push: (e) => got[name]!.push(e.message.id),
      end: () => ended.add(name),
    });
  }
  const settle = async () => {
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
  };
  return { bus, feed, got, ended, settle };
}

const event = (id: string, orgId: string | null | undefined): Record<string, unknown> => {
  const m: Record<string, unknown> = { ...message('CREATED', 1), id, orgId };
  if (orgId === undefined) delete m.orgId;
  return m;
};

describe('ItemEventFeed: organizations', () => {
  it("sends an organization's events only to subscriptions on it, and personal ones only to the others", async () => {
    const { bus, feed, got, settle } = feedWith({
      personal: { userId: ALICE, filter: {} },
      owner: { userId: ALICE, filter: { ownerId: OWNER } },
      org: { userId: ALICE, filter: { orgId: ORG } },
      other: { userId: ALICE, filter: { orgId: OTHER_ORG } },
    });
    bus.publish(ITEM_EVENTS_CHANNEL, event('a'.repeat(24), ORG));
    bus.publish(ITEM_EVENTS_CHANNEL, event('b'.repeat(24), null));
    // From an instance older than organizations: no orgId at all, a personal item.
    bus.publish(ITEM_EVENTS_CHANNEL, event('c'.repeat(24), undefined));
    await settle();
    feed.close();
    expect(got).toEqual({
      personal: ['b'.repeat(24), 'c'.repeat(24)],
      owner: ['b'.repeat(24), 'c'.repeat(24)],
      org: ['a'.repeat(24)],
      other: [],
    });
  });

  it("ends the member's streams on that organization when their membership ends, everyone's when it goes", async () => {
    const { bus, feed, ended, settle } = feedWith({
      aliceOrg: { userId: ALICE, filter: { orgId: ORG } },
      aliceOther: { userId: ALICE, filter: { orgId: OTHER_ORG } },
      alicePersonal: { userId: ALICE, filter: {} },
      bobOrg: { userId: BOB, filter: { orgId: ORG } },
    });
    bus.publish(MEMBERSHIP_CHANNEL, { orgId: ORG, userId: ALICE });
    await settle();
    expect([...ended]).toEqual(['aliceOrg']);
    bus.publish(MEMBERSHIP_CHANNEL, { orgId: ORG, userId: 42 });
    await settle();
    expect([...ended]).toEqual(['aliceOrg']);
    bus.publish(MEMBERSHIP_CHANNEL, { orgId: ORG, userId: null });
    await settle();
    feed.close();
    expect([...ended].sort()).toEqual(['aliceOrg', 'bobOrg']);
  });
});
