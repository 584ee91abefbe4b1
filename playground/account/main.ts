import { describeError, linkToken, mutate } from './api';
import { byId, clearAlert, setFieldError, showAlert, showStatus } from './ui';
import './account.css';

const VERIFY_EMAIL = 'mutation VerifyEmail($token: String!) { verifyEmail(token: $token) { email emailVerified } }';
const CONFIRM_EMAIL = 'mutation ConfirmEmailChange($token: String!) { confirmEmailChange(token: $token) { email } }';
// Only the user: the page keeps no session, so the tokens of the AuthPayload are not asked for.
const RESET_PASSWORD =
  'mutation ResetPassword($token: String!, $newPassword: String!, $totpCode: String) { resetPassword(token: $token, newPassword: $newPassword, totpCode: $totpCode) { user { email } } }';

const MISSING_TOKEN = 'This link is incomplete: open it again from the email';

async function verifyEmail(token: string): Promise<void> {
  const res = await mutate<{ verifyEmail: { email: string; emailVerified: boolean } }>(VERIFY_EMAIL, { token });
  if (!res.ok) return showAlert(describeError(res.error));
  showStatus(`Your address ${res.data.verifyEmail.email} is verified`);
}

async function confirmEmail(token: string): Promise<void> {
  const res = await mutate<{ confirmEmailChange: { email: string } }>(CONFIRM_EMAIL, { token });
  if (!res.ok) return showAlert(describeError(res.error));
  showStatus(`Your email address is now ${res.data.confirmEmailChange.email}`);
}

function resetPassword(token: string): void {
  const form = byId<HTMLFormElement>('reset-form');
  const password = byId<HTMLInputElement>('new-password');
  const confirm = byId<HTMLInputElement>('confirm-password');
  const passwordError = byId('new-password-error');
  const confirmError = byId('confirm-password-error');
  const codeField = byId('totp-field');
  const code = byId<HTMLInputElement>('totp-code');
  const codeError = byId('totp-code-error');
  const submit = form.querySelector<HTMLButtonElement>('button[type=submit]')!;
  byId('pending').hidden = true;
  form.hidden = false;

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    clearAlert();
    setFieldError(password, passwordError, null);
    if (password.value !== confirm.value) {
      setFieldError(confirm, confirmError, 'The two passwords differ');
      confirm.focus();
      return;
    }
    setFieldError(confirm, confirmError, null);
    setFieldError(code, codeError, null);
    submit.disabled = true;
    const variables: Record<string, string> = { token, newPassword: password.value };
    if (!codeField.hidden && code.value.trim()) variables.totpCode = code.value.trim();
    void mutate<{ resetPassword: { user: { email: string } } }>(RESET_PASSWORD, variables).then((res) => {
      submit.disabled = false;
      if (res.ok) {
        form.hidden = true;
        form.reset();
        // The page keeps no session (nothing in storage), so it does not claim one.
        return showStatus('Your password was changed; you can now sign in with it');
      }
      // Two-factor sign-in is on: the link alone does not reset the password, a code is asked
      // for, and the link stays usable for the retry.
      const reason = res.error.extensions?.reason;
      if (reason === 'MFA_REQUIRED' || reason === 'MFA_INVALID') {
        codeField.hidden = false;
        code.value = '';
        setFieldError(
          code,
          codeError,
          reason === 'MFA_REQUIRED'
            ? 'Enter the code from your authenticator app (or a recovery code)'
            : 'That code is not valid; enter the current one',
        );
        code.focus();
        return;
      }
      // A refused password leaves the link usable: the form stays for another try.
      if (res.error.extensions?.field === 'newPassword') {
        setFieldError(password, passwordError, res.error.message);
        password.focus();
        return;
      }
      showAlert(describeError(res.error));
      // Without a valid link no password can be set; a retry would only fail again.
      if (res.error.extensions?.field === 'token') form.hidden = true;
    });
  });
}

const PAGES: Record<string, (token: string) => void | Promise<void>> = {
  'verify-email': verifyEmail,
  'confirm-email': confirmEmail,
  'reset-password': resetPassword,
};

const run = PAGES[document.body.dataset.page ?? ''];
const token = linkToken();
if (!run) showAlert('Unknown page');
else if (!token) showAlert(MISSING_TOKEN);
else void run(token);
