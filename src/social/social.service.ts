import { audit, AuthEvent } from '../auth/auth.audit';
import { mfaRequired, requireSecondFactor } from '../auth/credentials.service';
import { assertReauthenticated } from '../auth/reauthentication';
import { startSession } from '../auth/session.service';
import type { AuthResult } from '../auth/sign-in';
import type { AuthUser, Caller } from '../core/context';
import type { Revocation } from '../core/module';
import { accountDisabled, ConflictError, NotFoundError } from '../core/errors';
import { isObjectId } from '../core/validation';
import { PasskeyModel } from '../passwordless/passkey.model';
import { User, UserModel } from '../users/user.model';
import { LinkedIdentity, LinkedIdentityModel } from './identity.model';
import { OidcStateModel, type OidcState, type VerifiedIdentity } from './oidc-state.model';
import { checkCallback, claimState, deleteState, releaseState, startRoundTrip } from './oidc-state.service';
import { providerOf, providerSignInInvalid, redeemCode } from './provider';
import { linkIdentity, resolveAccount } from './social-accounts';
import { SocialEvent } from './social.audit';

/**
 * `startProviderSignIn`: the state is bound to the browser that asked (`binding`, kept in an
 * httpOnly cookie by the resolver), so a callback sent to someone else cannot sign them in.
 */
export function startSignIn(provider: string, redirectUri: string, binding: string, caller: Caller) {
  return startRoundTrip(provider, redirectUri, { purpose: 'signIn', binding }, caller);
}

/** `startProviderLink`: like a sign-in, for the signed-in caller, inside the re-authentication window. */
export async function startLink(me: AuthUser, provider: string, redirectUri: string, caller: Caller) {
  await assertReauthenticated(me);
  return startRoundTrip(provider, redirectUri, { purpose: 'link', userId: me.id }, caller);
}

/** The identity a claimed state proves: the one kept from an earlier try, or the code redeemed now. */
async function identityOf(state: OidcState, code: string, caller: Caller): Promise<VerifiedIdentity> {
  if (state.identity) return state.identity;
  const provider = providerOf(caller.config, state.provider);
  let identity: VerifiedIdentity | null;
  try {
    identity = await redeemCode(provider, state, code, caller.logger);
  } catch (err) {
    // Unreachable: the code was not redeemed, so the state may be tried again.
    await releaseState(state._id, null).catch(() => undefined);
    throw err;
  }
  if (!identity) {
    await deleteState(state._id);
    throw providerSignInInvalid();
  }
  return identity;
}

/**
 * `finishProviderSignIn`: the callback's code and state give a verified identity, which signs in
 * its account (see resolveAccount). With TOTP on, a code is required; without it the state is
 * given back with the identity it proved, for a retry within its lifetime (the provider's code
 * can be redeemed once).
 */
export async function finishSignIn(
  input: { code: string; state: string; totpCode?: string | null; binding: string | undefined },
  caller: Caller,
): Promise<AuthResult> {
  checkCallback(input.code, input.state);
  const state = await claimState(input.state, { purpose: 'signIn', binding: input.binding });
  if (!state) throw providerSignInInvalid();
  const identity = await identityOf(state, input.code, caller);
  const { user, linked } = await resolveAccount(state.provider, identity, caller).catch(async (err: unknown) => {
    await deleteState(state._id);
    throw err;
  });
  if (user.disabled) {
    await deleteState(state._id);
    throw accountDisabled();
  }
  if (user.totpEnabled) {
    if (!input.totpCode) {
      await releaseState(state._id, identity);
      throw mfaRequired();
    }
    await requireSecondFactor(user, input.totpCode, caller, 'provider').catch(async (err: unknown) => {
      await releaseState(state._id, identity);
      throw err;
    });
  }
  await deleteState(state._id);
  await recordUse(user, state.provider, identity, linked, caller);
  return startSession(user, caller);
}

async function recordUse(
  user: User,
  provider: string,
  identity: VerifiedIdentity,
  linked: LinkedIdentity | null,
  caller: Caller,
): Promise<void> {
  const userId = String(user._id);
  if (linked) {
    await LinkedIdentityModel.updateOne(
      { _id: linked._id },
      { $set: { lastUsedAt: new Date(), email: identity.email ?? null } },
    );
  } else {
    await linkIdentity(userId, provider, identity);
    audit(caller, SocialEvent.IDENTITY_LINKED, { userId, actorId: userId, details: { provider, by: 'signIn' } });
  }
  audit(caller, AuthEvent.LOGIN_SUCCEEDED, { userId, details: { via: 'provider', provider } });
}

/** `finishProviderLink`: the caller's own link state; the identity joins the caller's account. */
export async function finishLink(me: AuthUser, input: { code: string; state: string }, caller: Caller) {
  checkCallback(input.code, input.state);
  const state = await claimState(input.state, { purpose: 'link', userId: me.id });
  if (!state) throw providerSignInInvalid();
  const identity = await identityOf(state, input.code, caller);
  await deleteState(state._id);
  const linked = await linkIdentity(me.id, state.provider, identity);
  audit(caller, SocialEvent.IDENTITY_LINKED, {
    userId: me.id,
    actorId: me.id,
    details: { provider: state.provider, by: 'link' },
  });
  return linked;
}

/** My linked identities, oldest first. */
export function listIdentities(userId: string): Promise<LinkedIdentity[]> {
  return LinkedIdentityModel.find({ userId }).sort({ linkedAt: 1, _id: 1 }).lean<LinkedIdentity[]>();
}

/**
 * `unlinkIdentity`: one of mine, inside the re-authentication window. The last way in stays: the
 * only identity of an account with neither a password nor a passkey is CONFLICT.
 */
export async function unlink(me: AuthUser, id: string, caller: Caller): Promise<boolean> {
  await assertReauthenticated(me);
  const identity = isObjectId(id)
    ? await LinkedIdentityModel.findOne({ _id: id.toLowerCase(), userId: me.id }).lean<LinkedIdentity>()
    : null;
  if (!identity) throw new NotFoundError('No such linked identity');
  const removed = await LinkedIdentityModel.deleteOne({ _id: identity._id, userId: me.id });
  if (!removed.deletedCount) throw new NotFoundError('No such linked identity');
  // Counted after the delete, so two parallel unlinks cannot both see another way in left.
  if (!(await hasAnotherWayIn(me.id))) {
    await LinkedIdentityModel.create(identity).catch(() => undefined);
    throw new ConflictError('This is the last way to sign in: set a password or add a passkey first', {
      reason: 'LAST_SIGN_IN_METHOD',
    });
  }
  audit(caller, SocialEvent.IDENTITY_UNLINKED, {
    userId: me.id,
    actorId: me.id,
    details: { provider: identity.provider },
  });
  return true;
}

async function hasAnotherWayIn(userId: string): Promise<boolean> {
  const [account, passkeys, identities] = await Promise.all([
    UserModel.findById(userId, { hasPassword: 1 }).lean<User>(),
    PasskeyModel.countDocuments({ userId }),
    LinkedIdentityModel.countDocuments({ userId }),
  ]);
  return account?.hasPassword !== false || passkeys > 0 || identities > 0;
}

/**
 * A password reset takes a compromised account back, and a first emailed code takes an account
 * back from whoever registered it without owning the address: an identity an intruder linked
 * must not outlive either (as passkeys and API keys do not). Disabling keeps them.
 */
export async function revokeIdentitiesOf(userId: string, revocation: Revocation): Promise<void> {
  if (revocation.reason === 'USER_DISABLED') return;
  const [identities] = await Promise.all([
    LinkedIdentityModel.deleteMany({ userId }),
    OidcStateModel.deleteMany({ userId }),
  ]);
  if (!identities.deletedCount) return;
  audit({ client: revocation, logger: revocation.logger }, SocialEvent.IDENTITY_UNLINKED, {
    userId,
    actorId: revocation.actorId,
    details: { reason: revocation.reason, count: identities.deletedCount },
  });
}
