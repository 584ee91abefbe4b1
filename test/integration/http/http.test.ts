import net from 'node:net';
import { Writable } from 'node:stream';
import { MongoClient } from 'mongodb';
import mongoose from 'mongoose';
import pino from 'pino';
import { UserModel } from '../../../src/users/user.model';
import { codes } from '../../helpers/graphql';
import { startTestServer, type TestServer } from '../../helpers/server';

describe('HTTP service', () => {
  let api: TestServer;
  const logLines: string[] = [];

  beforeAll(async () => {
    const sink = new Writable({
      write(chunk, _enc, done) {
        logLines.push(chunk.toString());
        done();
      },
    });
    api = await startTestServer({}, pino({ level: 'debug' }, sink));
  });
  afterAll(() => api.stop());

  it('answers GET /health with 200 {"status":"ok"}', async () => {
    const res = await fetch(`${api.url}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('answers GET /ready with 200 when the database answers a ping', async () => {
    const res = await fetch(`${api.url}/ready`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok', database: 'up' });
  });

  it('serves GraphQL over POST /graphql', async () => {
    const res = await api.gql('{ me { id } }');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ data: { me: null } });
  });

  it('serves GraphQL queries over GET /graphql', async () => {
    const res = await fetch(`${api.url}/graphql?query=${encodeURIComponent('{ me { id } }')}`, {
      headers: { 'apollo-require-preflight': 'true' },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ data: { me: null } });
  });

  it('returns a request id, keeping a well-formed one sent by the client', async () => {
    const generated = await fetch(`${api.url}/health`);
    expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const given = await fetch(`${api.url}/health`, { headers: { 'x-request-id': 'trace-abc-123' } });
    expect(given.headers.get('x-request-id')).toBe('trace-abc-123');
    const hostile = await fetch(`${api.url}/health`, { headers: { 'x-request-id': 'a b<script>' } });
    expect(hostile.headers.get('x-request-id')).not.toBe('a b<script>');
  });

  it('answers an unknown route with 404 JSON', async () => {
    const res = await fetch(`${api.url}/nope`);
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    expect(await res.json()).toMatchObject({ error: 'not_found' });
  });

  it('answers malformed JSON with 400 JSON, not an HTML page', async () => {
    const res = await fetch(`${api.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"query": ',
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    expect(await res.json()).toMatchObject({ error: 'invalid_json' });
  });

  it('answers a GraphQL syntax error with GRAPHQL_PARSE_FAILED', async () => {
    const res = await api.gql('{ me { ');
    expect(res.status).toBe(400);
    expect(codes(res)).toEqual(['GRAPHQL_PARSE_FAILED']);
  });

  it('reaches the database over the wire: a mongoose write is read back by an independent driver connection', async () => {
    const email = `wire-${Date.now()}@example.com`;
    await UserModel.create({ email, passwordHash: 'not-a-real-hash' });
    const client = await MongoClient.connect(api.config.mongodbUri!);
    try {
      const doc = await client.db(mongoose.connection.name).collection('users').findOne({ email });
      expect(doc).toMatchObject({ email, role: 'USER', disabled: false });
      expect(String(doc!._id)).toMatch(/^[0-9a-f]{24}$/);
    } finally {
      await client.close();
    }
  });

  it('keeps credentials and passwords out of the logs', async () => {
    await api.gql(
      'query($password: String) { me { id } }',
      { password: 'S3cret-Pa55word' },
      {
        authorization: 'Bearer very.secret.token',
        cookie: 'session=cookie-secret',
      },
    );
    const all = logLines.join('');
    expect(all).toContain('"url":"/graphql"');
    expect(all).not.toContain('very.secret.token');
    expect(all).not.toContain('cookie-secret');
    expect(all).not.toContain('S3cret-Pa55word');
  });

  it('logs each request with its request id', async () => {
    await fetch(`${api.url}/health`, { headers: { 'x-request-id': 'log-line-id-1' } });
    const line = logLines.find((l) => l.includes('log-line-id-1'));
    expect(line).toBeDefined();
    expect(JSON.parse(line!)).toMatchObject({
      req: { id: 'log-line-id-1', method: 'GET', url: '/health' },
      res: { statusCode: 200 },
    });
  });

  it("puts the request id on the lines a resolver logs (the context's logger is the request's)", async () => {
    // A failed sign-in is audited, and the audit line goes through the resolver's logger.
    const before = logLines.length;
    const res = await api.gql(
      'mutation($i: LoginInput!) { login(input: $i) { accessToken } }',
      { i: { email: 'nobody-logs@example.com', password: 'Whatever-Password-1' } },
      { 'x-request-id': 'resolver-line-id-1' },
    );
    expect(codes(res)).toEqual(['UNAUTHENTICATED']);
    const audited = logLines
      .slice(before)
      .map((l) => JSON.parse(l))
      .find((l) => String(l.msg).startsWith('audit:'));
    expect(audited).toMatchObject({ req: { id: 'resolver-line-id-1', method: 'POST', url: '/graphql' } });
  });

  it('logs a request the client abandoned as aborted, not as completed', async () => {
    const { port } = new URL(api.url);
    // A sign-in (a bcrypt comparison, tens of milliseconds), and the client goes away before the answer.
    const body = JSON.stringify({
      query: 'mutation($i: LoginInput!) { login(input: $i) { accessToken } }',
      variables: { i: { email: 'nobody-aborts@example.com', password: 'Whatever-Password-1' } },
    });
    const socket = net.connect(Number(port), '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write(
      'POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\nX-Request-Id: aborted-request-1\r\n\r\n${body}`,
    );
    await new Promise((r) => setTimeout(r, 5));
    socket.destroy();
    const line = async () => logLines.find((l) => l.includes('aborted-request-1'));
    const deadline = Date.now() + 5_000;
    while (!(await line()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const entry = JSON.parse((await line())!);
    expect(entry).toMatchObject({ msg: 'request aborted', aborted: true, req: { id: 'aborted-request-1' } });
    expect(entry.res).toBeUndefined();
  });

  it('answers /ready with 503 while the database is unreachable, and /health stays 200', async () => {
    await mongoose.connection.close();
    const ready = await fetch(`${api.url}/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ status: 'unavailable', database: 'down' });
    expect((await fetch(`${api.url}/health`)).status).toBe(200);
  });
});
