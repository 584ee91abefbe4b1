import { MAIL_WORKER_DEFAULTS, retryDelayMs } from '../../src/mail/mail.worker';
import { loadConfig } from '../../src/core/config';

describe('mail retries with the default settings', () => {
  it('keep a message for hours of SMTP outage before giving up, never waiting more than an hour between tries', () => {
    const { maxAttempts } = loadConfig({ NODE_ENV: 'test' }).mail;
    const delays = Array.from({ length: maxAttempts - 1 }, (_, i) => retryDelayMs(i + 1, MAIL_WORKER_DEFAULTS));
    expect(delays[0]).toBe(60_000);
    expect(Math.max(...delays)).toBeLessThanOrEqual(3_600_000);
    expect(delays.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(2 * 3_600_000);
  });
});
