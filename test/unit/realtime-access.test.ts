import type { AuthUser } from '../../src/core/context';
import { watchedOrganization } from '../../src/realtime/realtime.access';

const ORG = 'aaaaaaaaaaaaaaaaaaaaaaaa';
const OTHER = 'bbbbbbbbbbbbbbbbbbbbbbbb';
const user: AuthUser = { id: '111111111111111111111111', email: 'u@example.com', role: 'USER' };
const orgKey: AuthUser = { ...user, apiKey: { id: 'k', scopes: ['ITEMS_READ'], orgId: ORG } };
const personalKey: AuthUser = { ...user, apiKey: { id: 'k', scopes: ['ITEMS_READ'] } };

const code = (run: () => unknown): unknown => {
  try {
    run();
  } catch (err) {
    return (err as { extensions?: { code?: string } }).extensions?.code;
  }
  return undefined;
};

// The membership itself is checked against the database (test/integration/realtime/orgs.test.ts).
describe('watchedOrganization: which organization a subscription watches', () => {
  it("is the filter's, lower-cased; none: personal items only", () => {
    expect(watchedOrganization(user, ORG.toUpperCase())).toBe(ORG);
    expect(watchedOrganization(user, null)).toBeUndefined();
    expect(watchedOrganization(user, undefined)).toBeUndefined();
    expect(watchedOrganization(personalKey, undefined)).toBeUndefined();
    expect(code(() => watchedOrganization(user, 'nope'))).toBe('BAD_USER_INPUT');
  });

  it("is always an organization key's own: by default, and another one does not exist (NOT_FOUND)", () => {
    expect(watchedOrganization(orgKey, undefined)).toBe(ORG);
    expect(watchedOrganization(orgKey, ORG)).toBe(ORG);
    expect(code(() => watchedOrganization(orgKey, OTHER))).toBe('NOT_FOUND');
  });
});
