/**
 * Passkeys and emailed sign-in codes. The begin mutations answer exactly the options JSON that
 * @simplewebauthn/browser takes, and the finish ones take the browser's JSON as it comes back.
 */
import {
  startAuthentication,
  startRegistration,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
} from '@simplewebauthn/browser';
import { fieldOf, post, postSignedIn, SIGNED_IN, sessionOf, type Session } from './session';

/** Usernameless: the authenticator offers the passkeys it holds for this site. */
export async function signInWithPasskey(): Promise<Session> {
  const optionsJSON = fieldOf<PublicKeyCredentialRequestOptionsJSON>(
    await post('mutation BeginPasskeySignIn { beginPasskeySignIn }'),
    'beginPasskeySignIn',
  );
  const response = await startAuthentication({ optionsJSON });
  const body = await post(
    `mutation FinishPasskeySignIn($response: JSONObject!) { finishPasskeySignIn(response: $response, useCookie: true) ${SIGNED_IN} }`,
    { response },
  );
  return sessionOf(body, 'finishPasskeySignIn');
}

/** The server answers true whether or not the address has an account. */
export async function requestSignInCode(email: string): Promise<void> {
  const body = await post('mutation RequestSignInCode($email: String!) { requestSignInCode(email: $email) }', {
    email,
  });
  fieldOf(body, 'requestSignInCode');
}

export async function signInWithCode(email: string, code: string, totpCode?: string): Promise<Session> {
  const body = await post(
    `mutation SignInWithCode($email: String!, $code: String!, $totpCode: String) { signInWithCode(email: $email, code: $code, totpCode: $totpCode, useCookie: true) ${SIGNED_IN} }`,
    { email, code, totpCode: totpCode || undefined },
  );
  return sessionOf(body, 'signInWithCode');
}

/** Opens this session's re-authentication window; a wrong or missing proof names its field. */
export async function reauthenticate(password: string, totpCode?: string): Promise<void> {
  const body = await postSignedIn(
    'mutation Reauthenticate($input: ReauthenticateInput!) { reauthenticate(input: $input) { expiresAt } }',
    { input: { password, totpCode: totpCode || undefined } },
  );
  fieldOf(body, 'reauthenticate');
}

/** Creates a passkey on this device and stores it; needs the re-authentication window. Answers its name. */
export async function addPasskey(name?: string): Promise<string> {
  const optionsJSON = fieldOf<PublicKeyCredentialCreationOptionsJSON>(
    await postSignedIn('mutation BeginPasskeyRegistration { beginPasskeyRegistration }'),
    'beginPasskeyRegistration',
  );
  const response = await startRegistration({ optionsJSON });
  const body = await postSignedIn(
    'mutation FinishPasskeyRegistration($response: JSONObject!, $name: String) { finishPasskeyRegistration(response: $response, name: $name) { name } }',
    { response, name: name || undefined },
  );
  return fieldOf<{ name: string }>(body, 'finishPasskeyRegistration').name;
}
