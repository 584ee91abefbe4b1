import React, { useState } from 'react';
import { AddPasskey } from './add-passkey';
import { Input, TOTP_PROMPT, TotpInput } from './inputs';
import { requestSignInCode, signInWithCode, signInWithPasskey } from './passwordless';
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
 * The sign-in bar: a password, a passkey, a code mailed to the email typed in, or a pasted token.
 * The password and the emailed code both ask for a TOTP code when the server answers MFA_REQUIRED.
 */
export function SignIn({ session, onChange }: { session: Session | null; onChange: OnChange }) {
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

  if (session) return <SignedIn session={session} onChange={onChange} />;

  const fail = (err: Error) => {
    if (err instanceof ApiError && err.reason === 'MFA_REQUIRED') {
      setNeedsCode(true);
      setError(TOTP_PROMPT);
    } else setError(err.message);
  };
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
        if (pasted.trim()) return onChange({ token: pasted.trim().replace(/^Bearer\s+/i, '') });
        const totp = needsCode ? totpCode.trim() : undefined;
        const signedIn = codeSent ? signInWithCode(email.trim(), emailCode.trim(), totp) : login(email, password, totp);
        signedIn.then(onChange, fail);
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
          signInWithPasskey().then(onChange, fail);
        }}
      >
        Sign in with a passkey
      </button>
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
