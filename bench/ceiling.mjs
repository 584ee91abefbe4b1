// Transport ceiling: Node's http answering a pre-serialized response of a given size.
import http from 'node:http';

const size = Number(process.env.CEILING_BYTES ?? 200);
const body = Buffer.from(JSON.stringify({ data: { padding: 'x'.repeat(Math.max(0, size - 24)) } }));
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  });
});
server.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
