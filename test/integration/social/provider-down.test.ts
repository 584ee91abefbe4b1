import { clearOidcDiscoveries } from '../../../src/infra/oidc-client';
import { codes, type GraphQLResponse } from '../../helpers/graphql';
import { authorize, startOidcProvider, type TestOidcProvider } from '../../helpers/oidc-provider';
import { startTestServer, type TestServer } from '../../helpers/server';

const REDIRECT_URI = 'http://localhost:5173/auth/callback';
const START = 'mutation($r: String!) { startProviderSignIn(provider: "corp", redirectUri: $r) { url } }';
const FINISH = 'mutation($c: String!, $s: String!) { finishProviderSignIn(code: $c, state: $s) { accessToken } }';

let provider: TestOidcProvider;
let t: TestServer;
beforeAll(async () => {
  provider = await startOidcProvider({ redirectUris: [REDIRECT_URI] });
  t = await startTestServer({
    OIDC_PROVIDERS: 'corp',
    OIDC_REDIRECT_URIS: REDIRECT_URI,
    OIDC_CORP_ISSUER: provider.issuer,
    OIDC_CORP_CLIENT_ID: provider.clientId,
    OIDC_CORP_CLIENT_SECRET: provider.clientSecret,
  });
});
afterAll(async () => {
  await t?.stop();
  await provider?.stop();
});

function expectUnavailable(res: GraphQLResponse): void {
  expect(codes(res)).toEqual(['SERVICE_UNAVAILABLE']);
  expect(res.body.errors![0]!.extensions!.reason).toBe('PROVIDER_UNAVAILABLE');
}

describe('a provider that cannot be reached', () => {
  it('answers SERVICE_UNAVAILABLE with reason PROVIDER_UNAVAILABLE, at the finish and at the start', async () => {
    const started = await t.gql(START, { r: REDIRECT_URI });
    const cookie = /__Host-oidc_binding=[^;]+/.exec(started.headers.get('set-cookie') ?? '')![0];
    const { code, state } = await authorize(new URL(started.body.data!.startProviderSignIn.url), { login: 'alice' });
    await provider.stop();
    expectUnavailable(await t.gql(FINISH, { c: code, s: state }, { cookie }));
    // Not cached as a failure, and never a 500.
    clearOidcDiscoveries();
    const res = await t.gql(START, { r: REDIRECT_URI });
    expect(res.status).toBe(503);
    expectUnavailable(res);
  });
});
