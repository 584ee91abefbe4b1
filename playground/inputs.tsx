import React, { type InputHTMLAttributes } from 'react';

type InputProps = Omit<InputHTMLAttributes<HTMLInputElement>, 'value' | 'onChange'> & {
  name: string;
  value: string;
  onChange: (value: string) => void;
};

/** A controlled text input that hands its owner the new string. */
export function Input({ onChange, ...props }: InputProps) {
  return <input {...props} onChange={(e) => onChange(e.target.value)} />;
}

/** What the bar says when the server wants the second factor. */
export const TOTP_PROMPT = 'Enter the code from your authenticator app (or a recovery code)';

/** The second factor, shown once the server asks for it: an app code or a recovery code (hence not numeric). */
export function TotpInput(props: Pick<InputProps, 'name' | 'value' | 'onChange'>) {
  return <Input placeholder="6-digit code" autoComplete="one-time-code" inputMode="text" autoFocus {...props} />;
}
