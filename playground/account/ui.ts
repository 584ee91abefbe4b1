/**
 * Small DOM helpers. The status and alert regions are in the page from the start, empty, so
 * screen readers announce the text put into them (a region that appears with its text is often
 * not announced).
 */

export function byId<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing from the page`);
  return el as T;
}

/** Shows a result in the page's status region (role="status") and hides the pending line. */
export function showStatus(text: string): void {
  byId('pending').hidden = true;
  const status = byId('status');
  status.textContent = text;
}

/** Shows a failure in the page's alert region (role="alert"). */
export function showAlert(text: string): void {
  byId('pending').hidden = true;
  const alert = byId('alert');
  alert.textContent = text;
}

export function clearAlert(): void {
  const alert = byId('alert');
  alert.textContent = '';
}

/** Puts a message next to a form field and links it with aria-describedby / aria-invalid. */
export function setFieldError(input: HTMLInputElement, message: HTMLElement, text: string | null): void {
  message.textContent = text ?? '';
  message.hidden = text === null;
  input.setAttribute('aria-invalid', text === null ? 'false' : 'true');
}
