import { clientKey } from '../../src/core/client-ip';

describe('clientKey (the address rate limits count under)', () => {
  it.each([
    ['127.0.0.1', '127.0.0.1'],
    ['::ffff:10.0.0.1', '10.0.0.1'],
    ['::ffff:c000:201', '192.0.2.1'],
    ['64:ff9b::c000:202', '192.0.2.2'],
    ['64:ff9b::1.2.3.4', '1.2.3.4'],
    ['2001:db8:1:2::a', '2001:db8:1:2::/64'],
    ['2001:0DB8:0001:0002:ffff:ffff:ffff:ffff', '2001:db8:1:2::/64'],
    ['2001:db8::', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
  ])('maps %s to %s', (ip, key) => {
    expect(clientKey(ip)).toBe(key);
  });

  it('gives every address of one /64 the same key, and a neighbouring /64 another', () => {
    const keys = new Set(
      ['2001:db8:5:6::1', '2001:db8:5:6:abcd::9', '2001:db8:5:6:ffff:ffff:ffff:fffe'].map(clientKey),
    );
    expect(keys.size).toBe(1);
    expect(clientKey('2001:db8:5:7::1')).not.toBe(clientKey('2001:db8:5:6::1'));
  });

  it('leaves anything that is not an IP address as it is', () => {
    expect(clientKey('not-an-ip')).toBe('not-an-ip');
  });
});
