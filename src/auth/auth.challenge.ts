import { HeaderMap } from '@apollo/server';
import { GraphQLError } from 'graphql';
import type { CredentialRefusal } from '../core/module';

/** The `extensions.reason` of a refused `Authorization` header. */
export type ChallengeReason = CredentialRefusal | 'BAD_CREDENTIALS' | 'MFA_REQUIRED';

/** A 401 with a `WWW-Authenticate` challenge, as HTTP asks for a refused credential. */
export function invalidCredentials(
  scheme: 'Bearer' | 'Basic',
  description: string,
  reason: ChallengeReason = scheme === 'Basic' ? 'BAD_CREDENTIALS' : 'TOKEN_INVALID',
): GraphQLError {
  const challenge =
    scheme === 'Bearer'
      ? `Bearer realm="graphql", error="invalid_token", error_description="${description}"`
      : 'Basic realm="graphql", charset="UTF-8"';
  return new GraphQLError(description, {
    extensions: {
      code: 'UNAUTHENTICATED',
      reason,
      http: { status: 401, headers: new HeaderMap([['www-authenticate', challenge]]) },
    },
  });
}
