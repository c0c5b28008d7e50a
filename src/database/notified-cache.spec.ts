import type { DatabaseNotifications, NotificationSubscriber } from './database-notifications';
import { NotifiedCache } from './notified-cache';

/** Notifications delivered by hand; `listening` as the connection would be. */
function fakeNotifications() {
  const subscribers = new Map<string, NotificationSubscriber>();
  const fake = {
    isListening: true,
    subscribe: (channel: string, subscriber: NotificationSubscriber) => subscribers.set(channel, subscriber),
    notify: (channel: string, payload: string) => subscribers.get(channel)!.notify(payload),
    reset: (channel: string) => subscribers.get(channel)!.reset(),
  };
  return fake;
}

describe('NotifiedCache', () => {
  const rows = new Map<string, { id: string; version: number }>();
  let loads = 0;
  const load = (id: string) => async () => {
    loads += 1;
    const row = rows.get(id);
    return row ? { ...row } : null;
  };
  /** A load that reads the row now and answers when released (a query in flight). */
  const slowLoad = (id: string) => {
    const gate: { release?: () => void } = {};
    const slow = async () => {
      const row = { ...rows.get(id)! };
      await new Promise<void>((resolve) => (gate.release = resolve));
      return row;
    };
    return { slow, release: () => gate.release!() };
  };
  beforeEach(() => {
    rows.clear();
    loads = 0;
  });

  const make = (maxAgeMs = 60_000, notifications = fakeNotifications()) => ({
    notifications,
    cache: new NotifiedCache<{ id: string; version: number }>(notifications as unknown as DatabaseNotifications, {
      channel: 'kms_test',
      max: 100,
      maxAgeMs,
    }),
  });

  it('serves a row from memory until a notification names it', async () => {
    const { cache, notifications } = make();
    rows.set('a', { id: 'a', version: 1 });
    expect(await cache.get('a', load('a'))).toEqual({ id: 'a', version: 1 });
    rows.set('a', { id: 'a', version: 2 });
    expect(await cache.get('a', load('a'))).toEqual({ id: 'a', version: 1 });
    expect(loads).toBe(1);
    notifications.notify('kms_test', 'a');
    expect(await cache.get('a', load('a'))).toEqual({ id: 'a', version: 2 });
  });

  it('never caches an absent row', async () => {
    const { cache } = make();
    expect(await cache.get('b', load('b'))).toBeNull();
    rows.set('b', { id: 'b', version: 1 });
    expect(await cache.get('b', load('b'))).toEqual({ id: 'b', version: 1 });
  });

  it('keeps nothing read while an invalidation came in (a row read just before a change)', async () => {
    const { cache, notifications } = make();
    rows.set('a', { id: 'a', version: 1 });
    const { slow, release } = slowLoad('a');
    const pending = cache.get('a', slow);
    rows.set('a', { id: 'a', version: 2 });
    notifications.notify('kms_test', 'a');
    release();
    expect(await pending).toEqual({ id: 'a', version: 1 }); // the caller gets what it read ...
    expect(await cache.get('a', load('a'))).toEqual({ id: 'a', version: 2 }); // ... the cache does not keep it
  });

  it('bypasses and empties itself while the notification connection is down, and empties again when it is back', async () => {
    const { cache, notifications } = make();
    rows.set('a', { id: 'a', version: 1 });
    await cache.get('a', load('a'));
    notifications.isListening = false;
    notifications.reset('kms_test');
    rows.set('a', { id: 'a', version: 2 });
    expect(await cache.get('a', load('a'))).toEqual({ id: 'a', version: 2 });
    rows.set('a', { id: 'a', version: 3 });
    expect(await cache.get('a', load('a'))).toEqual({ id: 'a', version: 3 }); // nothing kept meanwhile
    notifications.isListening = true;
    notifications.reset('kms_test');
    expect(await cache.get('a', load('a'))).toEqual({ id: 'a', version: 3 });
    expect(loads).toBe(4);
  });

  it('expires entries after maxAgeMs, and with 0 reads through every time', async () => {
    const { cache } = make(300);
    rows.set('a', { id: 'a', version: 1 });
    await cache.get('a', load('a'));
    rows.set('a', { id: 'a', version: 2 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await cache.get('a', load('a'))).toEqual({ id: 'a', version: 1 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await cache.get('a', load('a'))).toEqual({ id: 'a', version: 2 });
    const off = make(0).cache;
    await off.get('a', load('a'));
    await off.get('a', load('a'));
    expect(loads).toBe(4);
  });

  it('shares one load between concurrent misses of a key', async () => {
    const { cache } = make();
    rows.set('a', { id: 'a', version: 1 });
    const answers = await Promise.all([cache.get('a', load('a')), cache.get('a', load('a')), cache.get('a', load('a'))]);
    expect(answers).toEqual([{ id: 'a', version: 1 }, { id: 'a', version: 1 }, { id: 'a', version: 1 }]);
    expect(loads).toBe(1);
  });

  it('does not share a load begun before an invalidation with a request that came after it', async () => {
    const { cache, notifications } = make();
    rows.set('a', { id: 'a', version: 1 });
    const { slow, release } = slowLoad('a');
    const before = cache.get('a', slow);
    rows.set('a', { id: 'a', version: 2 });
    notifications.notify('kms_test', 'a');
    const after = cache.get('a', load('a'));
    release();
    expect(await before).toEqual({ id: 'a', version: 1 });
    expect(await after).toEqual({ id: 'a', version: 2 });
    expect(loads).toBe(1); // the request after the notification made its own load
  });

  it('serves a hit past half its age and reloads it in the background, once', async () => {
    const { cache } = make(1000);
    rows.set('a', { id: 'a', version: 1 });
    await cache.get('a', load('a'));
    await new Promise((resolve) => setTimeout(resolve, 600));
    rows.set('a', { id: 'a', version: 2 });
    const [first, second] = await Promise.all([cache.get('a', load('a')), cache.get('a', load('a'))]);
    expect([first, second]).toEqual([{ id: 'a', version: 1 }, { id: 'a', version: 1 }]); // nobody waited
    await new Promise((resolve) => setImmediate(resolve));
    expect(loads).toBe(2); // one reload for both
    expect(await cache.get('a', load('a'))).toEqual({ id: 'a', version: 2 });
    // The reload renewed the entry: past the first load's maximum age, still from memory.
    rows.set('a', { id: 'a', version: 3 });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await cache.get('a', load('a'))).toEqual({ id: 'a', version: 2 });
  });

  it('still makes a request wait for the load once an entry is past its maximum age', async () => {
    const { cache } = make(100);
    rows.set('a', { id: 'a', version: 1 });
    await cache.get('a', load('a'));
    rows.set('a', { id: 'a', version: 2 });
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(await cache.get('a', load('a'))).toEqual({ id: 'a', version: 2 });
  });
});
