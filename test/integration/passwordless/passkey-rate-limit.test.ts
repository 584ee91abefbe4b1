import { codes } from '../../helpers/graphql';
import { startTestServer, type TestServer } from '../../helpers/server';

describe('passkey sign-in', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ RATE_LIMIT_PER_IP: '3' });
  });
  afterAll(() => t.stop());

  it('is rate-limited per IP where the challenge is handed out (each finish needs one)', async () => {
    const begun = [];
    for (let i = 0; i < 3; i += 1) begun.push(await t.gql('mutation { beginPasskeySignIn }'));
    expect(begun.every((r) => r.body.data?.beginPasskeySignIn)).toBe(true);
    const limited = await t.gql('mutation { beginPasskeySignIn }');
    expect(codes(limited)).toEqual(['TOO_MANY_REQUESTS']);
    expect(limited.headers.get('retry-after')).toMatch(/^\d+$/);
    // A finish without a challenge of its own proves nothing.
    const refused = await t.gql('mutation($r: JSONObject!) { finishPasskeySignIn(response: $r) { accessToken } }', {
      r: { id: 'x' },
    });
    expect(refused.body.errors![0]!.extensions!.reason).toBe('PASSKEY_INVALID');
  });
});
