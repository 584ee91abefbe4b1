import React, { useState } from 'react';
import { Input, TOTP_PROMPT, TotpInput } from './inputs';
import { addPasskey, reauthenticate } from './passwordless';
import { ApiError } from './session';

interface Status {
  ok: boolean;
  text: string;
}

function StatusText({ status }: { status: Status | null }) {
  if (!status) return null;
  return (
    <span
      className={status.ok ? 'pg-ok' : 'pg-error'}
      role={status.ok ? 'status' : 'alert'}
      data-testid="passkey-status"
    >
      {status.text}
    </span>
  );
}

/**
 * "Add a passkey": the server lets a session add one only inside its re-authentication window,
 * so the password (and a TOTP code when the account has two-factor sign-in on) is asked first.
 */
export function AddPasskey() {
  const [open, setOpen] = useState(false);
  const [password, setPassword] = useState('');
  // Shown once reauthenticate names input.totpCode: the account has two-factor sign-in on.
  const [needsTotp, setNeedsTotp] = useState(false);
  const [totpCode, setTotpCode] = useState('');
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const [status, setStatus] = useState<Status | null>(null);

  async function submit() {
    try {
      await reauthenticate(password, needsTotp ? totpCode.trim() : undefined);
    } catch (err) {
      if (err instanceof ApiError && err.field === 'input.totpCode' && !needsTotp) {
        setNeedsTotp(true);
        setStatus({ ok: false, text: TOTP_PROMPT });
      } else setStatus({ ok: false, text: (err as Error).message });
      return;
    }
    try {
      const added = await addPasskey(name.trim());
      setOpen(false);
      setPassword('');
      setTotpCode('');
      setName('');
      setStatus({ ok: true, text: `Passkey "${added}" added` });
    } catch (err) {
      setStatus({ ok: false, text: `The passkey was not added: ${(err as Error).message}` });
    }
  }

  if (!open) {
    return (
      <>
        <button
          type="button"
          onClick={() => {
            setOpen(true);
            setStatus(null);
          }}
        >
          Add a passkey
        </button>
        <StatusText status={status} />
      </>
    );
  }
  return (
    <form
      className="pg-inline"
      onSubmit={(e) => {
        e.preventDefault();
        setBusy(true);
        setStatus(null);
        void submit().finally(() => setBusy(false));
      }}
    >
      <Input
        name="reauthPassword"
        type="password"
        placeholder="your password, to confirm"
        autoComplete="current-password"
        autoFocus
        value={password}
        onChange={setPassword}
      />
      {needsTotp && <TotpInput name="reauthTotpCode" value={totpCode} onChange={setTotpCode} />}
      <Input name="passkeyName" placeholder="passkey name (optional)" value={name} onChange={setName} />
      <button type="submit" disabled={busy}>
        Confirm and add
      </button>
      <button type="button" onClick={() => setOpen(false)}>
        Cancel
      </button>
      <StatusText status={status} />
    </form>
  );
}
