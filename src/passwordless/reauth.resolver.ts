import { Arg, Ctx, Mutation, Resolver } from 'type-graphql';
import { requireUser, type Context } from '../core/context';
import { callerOf } from '../users/user.actor';
import { reauthenticate } from './reauth.service';
import { Reauthentication, ReauthenticateInput } from './reauth.types';

@Resolver()
export class ReauthResolver {
  @Mutation(() => Reauthentication, {
    description:
      'Proves it is me again (password with totpCode when TOTP is on, a passkey, or an emailed code): for REAUTH_WINDOW_SECONDS this session may make sensitive changes without currentPassword. Only this session: not other sessions, API keys or HTTP Basic.',
  })
  async reauthenticate(
    @Arg('input', () => ReauthenticateInput) input: ReauthenticateInput,
    @Ctx() ctx: Context,
  ): Promise<Reauthentication> {
    return { expiresAt: await reauthenticate(requireUser(ctx), input, callerOf(ctx)) };
  }
}
