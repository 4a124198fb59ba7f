// A Node.js TLS peer for the interop tests: the reference behaviour portls copies.
//   node node-peer.js server CERTDIR            prints {"event":"listening","port":N}, then
//                                               one line per secureConnection; echoes data
//   node node-peer.js client PORT CERTDIR TEXT  connects to localhost:PORT trusting ca.crt,
//                                               prints secureConnect, sends TEXT, prints the
//                                               echo, ends; exit 0 on a clean close
'use strict';
const tls = require('tls');
const fs = require('fs');
const path = require('path');

const [mode, ...args] = process.argv.slice(2);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const summary = (s) => ({
  authorized: s.authorized,
  authorizationError: s.authorizationError || null,
  protocol: s.getProtocol(),
  cipher: s.getCipher().name,
  servername: s.servername || false,
  alpnProtocol: s.alpnProtocol || false,
});

if (mode === 'server') {
  const dir = args[0];
  const server = tls.createServer({
    key: fs.readFileSync(path.join(dir, 'server-rsa.key')),
    cert: fs.readFileSync(path.join(dir, 'server-rsa-chain.crt')),
    ALPNProtocols: ['h2', 'http/1.1'],
  }, (socket) => {
    out({ event: 'secureConnection', ...summary(socket) });
    socket.pipe(socket);
    socket.on('error', (e) => out({ event: 'error', code: e.code || null }));
  });
  server.on('tlsClientError', (e) => out({ event: 'clientError', code: e.code || null, message: e.message }));
  server.listen(0, '127.0.0.1', () => out({ event: 'listening', port: server.address().port }));
  process.on('SIGTERM', () => process.exit(0));
} else if (mode === 'client') {
  const [port, dir, text] = args;
  let got = '';
  const socket = tls.connect({
    host: 'localhost', port: Number(port), servername: 'localhost',
    ca: fs.readFileSync(path.join(dir, 'ca.crt')), ALPNProtocols: ['http/1.1', 'h2'],
  }, () => {
    out({ event: 'secureConnect', ...summary(socket) });
    socket.write(text);
  });
  socket.setEncoding('utf8');
  socket.on('data', (d) => {
    got += d;
    if (got.length >= text.length) { out({ event: 'data', text: got }); socket.end(); }
  });
  socket.on('error', (e) => { out({ event: 'error', code: e.code || null, message: e.message }); process.exitCode = 1; });
  socket.on('close', (hadError) => { out({ event: 'close', hadError }); if (hadError) process.exitCode = 1; });
} else {
  console.error('usage: node-peer.js server CERTDIR | client PORT CERTDIR TEXT');
  process.exit(2);
}
