import { GraphQLJSONObject } from 'graphql-scalars';
import { Arg, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import { AuthPayload, COOKIE_DESCRIPTION } from '../auth/auth.types';
import { inCookie } from '../auth/refresh-cookie';
import { httpResponse, requireUser, type Context } from '../core/context';
import { callerOf } from '../users/user.actor';
import { Passkey } from './passkey.model';
import * as passkeys from './passkey.service';
import { beginSignIn, finishSignIn } from './passkey-sign-in.service';

type JSONObject = Record<string, unknown>;

@Resolver(() => Passkey)
export class PasskeyResolver {
  @Query(() => [Passkey], { description: 'My passkeys, oldest first.' })
  passkeys(@Ctx() ctx: Context): Promise<Passkey[]> {
    return passkeys.listPasskeys(requireUser(ctx).id);
  }

  @Mutation(() => GraphQLJSONObject, {
    description:
      'Options for navigator.credentials.create() (PublicKeyCredentialCreationOptionsJSON), valid 5 minutes. Needs the re-authentication window of this session (reauthenticate); CONFLICT at 20 passkeys.',
  })
  async beginPasskeyRegistration(@Ctx() ctx: Context): Promise<JSONObject> {
    return { ...(await passkeys.beginRegistration(requireUser(ctx), callerOf(ctx))) };
  }

  @Mutation(() => Passkey, {
    description:
      "Stores the passkey the browser created (its RegistrationResponseJSON, as is) for beginPasskeyRegistration's challenge.",
  })
  finishPasskeyRegistration(
    @Arg('response', () => GraphQLJSONObject) response: JSONObject,
    @Arg('name', () => String, { nullable: true, description: '1 to 64 characters; default "Passkey (<date>)".' })
    name: string | null | undefined,
    @Ctx() ctx: Context,
  ): Promise<Passkey> {
    return passkeys.finishRegistration(requireUser(ctx), response, name, callerOf(ctx));
  }

  @Mutation(() => Passkey, { description: 'Renames one of my passkeys.' })
  renamePasskey(
    @Arg('id', () => ID) id: string,
    @Arg('name', () => String) name: string,
    @Ctx() ctx: Context,
  ): Promise<Passkey> {
    return passkeys.renamePasskey(requireUser(ctx), id, name);
  }

  @Mutation(() => Boolean, {
    description: 'Deletes one of my passkeys. Needs the re-authentication window of this session (reauthenticate).',
  })
  deletePasskey(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<boolean> {
    return passkeys.deletePasskey(requireUser(ctx), id, callerOf(ctx));
  }

  @Mutation(() => GraphQLJSONObject, {
    description:
      'Options for navigator.credentials.get() (PublicKeyCredentialRequestOptionsJSON), valid 5 minutes: no email asked, any passkey of this site may answer.',
  })
  async beginPasskeySignIn(@Ctx() ctx: Context): Promise<JSONObject> {
    return { ...(await beginSignIn(callerOf(ctx))) };
  }

  @Mutation(() => AuthPayload, {
    description:
      "Signs in with the browser's AuthenticationResponseJSON (as is) to a beginPasskeySignIn challenge; no TOTP code is asked. A response that does not verify is UNAUTHENTICATED with reason PASSKEY_INVALID.",
  })
  async finishPasskeySignIn(
    @Arg('response', () => GraphQLJSONObject) response: JSONObject,
    @Ctx() ctx: Context,
    @Arg('useCookie', () => Boolean, { nullable: true, description: COOKIE_DESCRIPTION }) useCookie?: boolean | null,
  ): Promise<AuthPayload> {
    const result = await finishSignIn(response, callerOf(ctx));
    return useCookie ? inCookie(httpResponse(ctx), result) : result;
  }
}
