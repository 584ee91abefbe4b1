import { Writable } from 'node:stream';
import pino from 'pino';
import { REDACT_PATHS } from '../../src/core/logger';

/** One object through a pino logger configured as the server's, back as the parsed line. */
function logged(obj: Record<string, unknown>): Record<string, any> {
  let line = '';
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      line += chunk.toString();
      done();
    },
  });
  pino({ redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, sink).info(obj);
  return JSON.parse(line);
}

describe('REDACT_PATHS', () => {
  it('hides second factors: TOTP codes, recovery codes and secrets', () => {
    const line = logged({
      totpCode: '123456',
      recoveryCodes: ['abcd-efgh'],
      secret: 'JBSWY3DPEHPK3PXP',
      body: { totp_code: '123456', secret: 'JBSWY3DPEHPK3PXP' },
      input: { totpCode: '123456', recoveryCodes: ['abcd-efgh'] },
      variables: { input: { totpCode: '123456' }, code: '654321' },
    });
    expect(JSON.stringify(line)).not.toMatch(/123456|654321|abcd-efgh|JBSWY3DPEHPK3PXP/);
  });

  it('keeps error codes, which logs need', () => {
    const line = logged({ err: { code: 'ECONNREFUSED' }, extensions: { code: 'BAD_USER_INPUT' } });
    expect(line.err.code).toBe('ECONNREFUSED');
    expect(line.extensions.code).toBe('BAD_USER_INPUT');
  });
});
