import React, { useEffect, useState } from 'react';
import { AddPasskey } from './add-passkey';
import { Input, TOTP_PROMPT, TotpInput } from './inputs';
import { requestSignInCode, signInWithCode, signInWithPasskey } from './passwordless';
import { finishProviderSignIn, ProviderButtons, type ProviderCallback } from './providers';
import { ApiError, login, post, type Session } from './session';

type OnChange = (s: Session | null) => void;

function SignedIn({ session, onChange }: { session: Session; onChange: OnChange }) {
  return (
    <div className="pg-bar">
      <span data-testid="signed-in">
        Signed in{session.email ? ` as ${session.email}` : ' with a pasted token'}; queries send{' '}
        <code>Authorization: Bearer …</code>
      </span>
      <button
        type="button"
        onClick={() => {
          // Ends the session on the server too and clears the refresh cookie.
          if (session.cookie) void post('mutation Logout { logout }');
          onChange(null);
        }}
      >
        Sign out
      </button>
      <AddPasskey />
    </div>
  );
}

/**
 * The sign-in bar: a password, a passkey, a code mailed to the email typed in, one of the server's
 * providers, or a pasted token. All but the last ask for a TOTP code when the server answers
 * MFA_REQUIRED. `callback` is the provider's redirect back to the page, if it just came back.
 */
export function SignIn(props: { session: Session | null; onChange: OnChange; callback: ProviderCallback | null }) {
  const { session, onChange, callback } = props;
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [pasted, setPasted] = useState('');
  const [error, setError] = useState('');
  const [notice, setNotice] = useState('');
  // Shown once the server answers MFA_REQUIRED: the account has two-factor sign-in on.
  const [needsCode, setNeedsCode] = useState(false);
  const [totpCode, setTotpCode] = useState('');
  // Once a code was mailed, the form signs in with it instead of the password.
  const [codeSent, setCodeSent] = useState(false);
  const [emailCode, setEmailCode] = useState('');
  // The provider's code and state, sent again with the TOTP code once the server asks for it.
  const [pending, setPending] = useState(callback && 'code' in callback ? callback : null);

  const done = (next: Session) => {
    setPending(null);
    onChange(next);
  };
  const fail = (err: Error) => {
    const reason = err instanceof ApiError ? err.reason : undefined;
    // Only a missing or wrong second factor is retried with the provider's code and state; after
    // anything else the form signs in the other ways again.
    if (reason !== 'MFA_REQUIRED' && reason !== 'MFA_INVALID') setPending(null);
    if (reason === 'MFA_REQUIRED') {
      setNeedsCode(true);
      setError(TOTP_PROMPT);
    } else setError(err.message);
  };

  // Once per page load: the bar stays mounted while signed in.
  useEffect(() => {
    if (callback && 'error' in callback) setError(callback.error);
    else if (callback) finishProviderSignIn(callback.code, callback.state).then(done, fail);
  }, []);

  if (session) return <SignedIn session={session} onChange={onChange} />;

  const start = () => {
    setError('');
    setNotice('');
  };

  return (
    <form
      className="pg-bar"
      onSubmit={(e) => {
        e.preventDefault();
        start();
        if (pasted.trim()) return done({ token: pasted.trim().replace(/^Bearer\s+/i, '') });
        const totp = needsCode ? totpCode.trim() : undefined;
        const signedIn = pending
          ? finishProviderSignIn(pending.code, pending.state, totp)
          : codeSent
            ? signInWithCode(email.trim(), emailCode.trim(), totp)
            : login(email, password, totp);
        signedIn.then(done, fail);
      }}
    >
      <strong>GraphQL playground</strong>
      <Input name="email" type="email" placeholder="email" autoComplete="username" value={email} onChange={setEmail} />
      {codeSent ? (
        <Input
          name="emailCode"
          placeholder="code from the email"
          autoComplete="one-time-code"
          autoFocus
          value={emailCode}
          onChange={setEmailCode}
        />
      ) : (
        <Input
          name="password"
          type="password"
          placeholder="password"
          autoComplete="current-password"
          value={password}
          onChange={setPassword}
        />
      )}
      {needsCode && <TotpInput name="totpCode" value={totpCode} onChange={setTotpCode} />}
      <button type="submit">{codeSent ? 'Sign in with the code' : 'Sign in'}</button>
      <button
        type="button"
        onClick={() => {
          start();
          if (!email.trim()) return setError('Type your email first');
          requestSignInCode(email.trim()).then(() => {
            setCodeSent(true);
            setNotice(`If ${email.trim()} has an account, a code is on its way`);
          }, fail);
        }}
      >
        {codeSent ? 'Email me another code' : 'Email me a code'}
      </button>
      {codeSent && (
        <button type="button" onClick={() => setCodeSent(false)}>
          Use my password
        </button>
      )}
      <button
        type="button"
        onClick={() => {
          start();
          signInWithPasskey().then(done, fail);
        }}
      >
        Sign in with a passkey
      </button>
      <ProviderButtons onStart={start} onError={fail} />
      <span className="pg-or">or</span>
      <Input name="token" placeholder="paste an access token" value={pasted} onChange={setPasted} />
      {notice && (
        <span className="pg-ok" role="status">
          {notice}
        </span>
      )}
      {error && (
        <span className="pg-error" role="alert">
          {error}
        </span>
      )}
    </form>
  );
}
