// Receiver for bench/webhooks.bench.mjs, in its own process: answers every POST 200 at once and
// counts posts and the events in their JSON-array bodies. The parent asks for counts over IPC.
import { createServer } from 'node:http';

let posts = 0;
let events = 0;
const server = createServer((request, response) => {
  const chunks = [];
  request.on('data', (chunk) => chunks.push(chunk));
  request.on('end', () => {
    posts += 1;
    events += JSON.parse(Buffer.concat(chunks).toString('utf8')).length;
    response.writeHead(200, { 'content-length': '0' }).end();
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
process.on('message', (message) => {
  if (message === 'count') process.send({ posts, events });
  if (message === 'reset') {
    posts = 0;
    events = 0;
    process.send({ posts, events });
  }
});
