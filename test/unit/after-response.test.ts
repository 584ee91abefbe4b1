import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Response } from 'express';
import { afterResponse } from '../../src/core/context';

/**
 * requestPasswordReset and requestSignInCode finish their work after the response; a client that
 * hangs up while the resolver still awaits must not leave that work waiting forever (it would hold
 * the request's context, and shutdown's flush would never end).
 */
describe('afterResponse', () => {
  let server: http.Server;
  let url = '';
  const ran: string[] = [];
  let gone!: () => void;
  const goneRan = new Promise<void>((resolve) => (gone = resolve));

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const after = afterResponse({ res: res as unknown as Response });
      if (req.url === '/hang-up') {
        // Only once the client is gone does the "resolver" get to schedule its work.
        res.once('close', () =>
          afterResponse({ res: res as unknown as Response })(() => {
            ran.push('hang-up');
            gone();
          }),
        );
        return;
      }
      after(() => ran.push('answered'));
      res.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  it('runs once the response is sent', async () => {
    expect(await (await fetch(`${url}/answer`)).text()).toBe('ok');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(ran).toContain('answered');
  });

  it('runs at once when the client hung up before the work was scheduled', async () => {
    const aborted = new AbortController();
    const request = fetch(`${url}/hang-up`, { signal: aborted.signal }).catch(() => undefined);
    setTimeout(() => aborted.abort(), 50);
    await request;
    await goneRan;
    expect(ran).toContain('hang-up');
  });
});
