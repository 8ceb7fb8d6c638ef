// Ceiling for single-event intake: bare node:http that parses the JSON body and answers 202 after
// one Redis call (XADD), with nothing else: no validation, no auth, no spool.
import { createServer } from 'node:http';
import { createClient } from 'redis';

const [redisUrl, port] = process.argv.slice(2);
const client = createClient({ url: redisUrl, RESP: 2 });
await client.connect();

const server = createServer((request, response) => {
  const chunks = [];
  request.on('data', (chunk) => chunks.push(chunk));
  request.on('end', async () => {
    const event = JSON.parse(Buffer.concat(chunks).toString());
    const id = await client.xAdd('bare:events', '*', { type: event.type, event: JSON.stringify(event) });
    response.writeHead(202, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ accepted: 1, ids: [id] }));
  });
});
server.listen(Number(port), '127.0.0.1', () => process.send?.('ready'));
process.on('SIGTERM', () => server.close(() => client.quit().then(() => process.exit(0))));
