// A Node.js TLS peer for the interop tests: the reference behaviour portls copies.
//   node node-peer.js server CERTDIR            prints {"event":"listening","port":N}, then
//                                               one line per secureConnection; echoes data
//   node node-peer.js client PORT CERTDIR TEXT  connects to localhost:PORT trusting ca.crt,
//                                               prints secureConnect, sends TEXT, prints the
//                                               echo, ends; exit 0 on a clean close
//   node node-peer.js resume CERTDIR VERSION PORT1 PORT2
//                                               connects to localhost:PORT1 (minVersion =
//                                               maxVersion = VERSION, e.g. TLSv1.3; with
//                                               "/no-ticket", TLSv1.2/no-ticket, without
//                                               tickets), keeps its 'session', then to
//                                               localhost:PORT2 with it; one secureConnect
//                                               line each, sessionReused = isSessionReused()
//   node node-peer.js sni PORT CERTDIR SERVERNAME  connects with that servername, prints
//                                               secureConnect with the peer's subject CN
//   node node-peer.js ticket-server CERTDIR HEXKEYS [SESSIONIDCONTEXT]
//                                               the echo server with ticketKeys (96 hex
//                                               digits), newSession / resumeSession answered
//                                               from memory, later; prints those events and
//                                               sessionReused
//   node node-peer.js require-cert-server CERTDIR VERSION
//                                               the echo server with requestCert and
//                                               rejectUnauthorized (ca.crt), at most VERSION
//   node node-peer.js ekm-client PORT CERTDIR LENGTH LABEL [VERSION]
//   node node-peer.js ekm-server CERTDIR LENGTH LABEL
//                                               print protocol, exportKeyingMaterial(LENGTH,
//                                               LABEL), getFinished(), getPeerFinished() as hex
//                                               on secureConnect / each secureConnection
//   node node-peer.js alpn-client PORT CERTDIR PROTOCOLS
//                                               connects with ALPNProtocols (comma list);
//                                               prints secureConnect's alpnProtocol or error
//   node node-peer.js nocert-client PORT CERTDIR VERSION
//                                               connects (at most VERSION) without a
//                                               certificate, writes once secure; prints
//                                               secureConnect, error and close; exit 0
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
} else if (mode === 'resume') {
  // Each connection sends a line and waits for its echo and, on the first, for a
  // session (TLS 1.3 tickets come after the handshake) before it ends.
  const [dir, spec, ...ports] = args;
  const [version, flag] = spec.split('/');
  const secureOptions = flag === 'no-ticket' ? require('crypto').constants.SSL_OP_NO_TICKET : 0;
  const ca = fs.readFileSync(path.join(dir, 'ca.crt'));
  let session = null;
  const next = (i) => {
    if (i === ports.length) return;
    let echoed = false, fresh = null;
    const socket = tls.connect({
      host: 'localhost', port: Number(ports[i]), servername: 'localhost', ca,
      minVersion: version, maxVersion: version, secureOptions, session: session || undefined,
    }, () => {
      out({ event: 'secureConnect', port: Number(ports[i]), ...summary(socket), sessionReused: socket.isSessionReused() });
      socket.write('resume ' + i);
    });
    const done = () => { if (echoed && (fresh || session)) socket.end(); };
    socket.on('session', (s) => { fresh = s; out({ event: 'session', length: s.length }); done(); });
    socket.on('data', () => {
      echoed = true;
      done();
      setTimeout(() => socket.end(), 2000).unref(); // no session came: end anyway
    });
    socket.on('error', (e) => { out({ event: 'error', code: e.code || null, message: e.message }); process.exitCode = 1; });
    socket.on('close', (hadError) => {
      out({ event: 'close', hadError });
      if (hadError || !echoed) { process.exitCode = 1; return; }
      session = session || fresh;
      next(i + 1);
    });
  };
  next(0);
} else if (mode === 'sni') {
  const [port, dir, servername] = args;
  const socket = tls.connect({
    host: 'localhost', port: Number(port), servername, ca: fs.readFileSync(path.join(dir, 'ca.crt')),
  }, () => {
    out({ event: 'secureConnect', ...summary(socket), subjectCN: socket.getPeerCertificate().subject.CN });
    socket.end();
  });
  socket.on('error', (e) => { out({ event: 'error', code: e.code || null, message: e.message }); process.exitCode = 1; });
} else if (mode === 'ticket-server') {
  const [dir, hex, sessionIdContext] = args;
  const store = new Map();
  const server = tls.createServer({
    key: fs.readFileSync(path.join(dir, 'server-rsa.key')),
    cert: fs.readFileSync(path.join(dir, 'server-rsa-chain.crt')),
    ticketKeys: Buffer.from(hex, 'hex'), sessionIdContext,
  }, (socket) => {
    out({ event: 'secureConnection', ...summary(socket), sessionReused: socket.isSessionReused() });
    socket.pipe(socket);
    socket.on('error', (e) => out({ event: 'error', code: e.code || null }));
  });
  server.on('newSession', (id, data, cb) => {
    out({ event: 'newSession', id: id.toString('hex') });
    store.set(id.toString('hex'), data);
    setImmediate(cb);
  });
  server.on('resumeSession', (id, cb) => {
    const data = store.get(id.toString('hex')) || null;
    out({ event: 'resumeSession', id: id.toString('hex'), found: data !== null });
    setImmediate(() => cb(null, data));
  });
  server.on('tlsClientError', (e) => out({ event: 'clientError', code: e.code || null, message: e.message }));
  server.listen(0, '127.0.0.1', () => out({ event: 'listening', port: server.address().port }));
  process.on('SIGTERM', () => process.exit(0));
} else if (mode === 'require-cert-server') {
  const [dir, version] = args;
  const server = tls.createServer({
    key: fs.readFileSync(path.join(dir, 'server-rsa.key')),
    cert: fs.readFileSync(path.join(dir, 'server-rsa-chain.crt')),
    ca: fs.readFileSync(path.join(dir, 'ca.crt')),
    requestCert: true, rejectUnauthorized: true, maxVersion: version,
  }, (socket) => {
    out({ event: 'secureConnection', ...summary(socket) });
    socket.pipe(socket);
    socket.on('error', (e) => out({ event: 'error', code: e.code || null }));
  });
  server.on('tlsClientError', (e) => out({ event: 'clientError', code: e.code || null, message: e.message }));
  server.listen(0, '127.0.0.1', () => out({ event: 'listening', port: server.address().port }));
  process.on('SIGTERM', () => process.exit(0));
} else if (mode === 'nocert-client') {
  const [port, dir, version] = args;
  const socket = tls.connect({
    host: 'localhost', port: Number(port), servername: 'localhost',
    ca: fs.readFileSync(path.join(dir, 'ca.crt')), maxVersion: version,
  }, () => {
    out({ event: 'secureConnect', ...summary(socket) });
    socket.write('hello');
  });
  socket.on('error', (e) => out({ event: 'error', code: e.code || null, message: e.message }));
  socket.on('close', (hadError) => out({ event: 'close', hadError }));
} else if (mode === 'ekm-client' || mode === 'ekm-server') {
  // Exporters: exportKeyingMaterial(LENGTH, LABEL), getFinished, getPeerFinished as hex.
  const ekm = (s, length, label) => ({
    protocol: s.getProtocol(),
    keyingMaterial: s.exportKeyingMaterial(Number(length), label).toString('hex'),
    finished: s.getFinished() ? s.getFinished().toString('hex') : null,
    peerFinished: s.getPeerFinished() ? s.getPeerFinished().toString('hex') : null,
  });
  if (mode === 'ekm-client') {
    const [port, dir, length, label, version] = args;
    const socket = tls.connect({
      host: 'localhost', port: Number(port), servername: 'localhost',
      ca: fs.readFileSync(path.join(dir, 'ca.crt')), maxVersion: version || 'TLSv1.3',
    }, () => {
      out({ event: 'secureConnect', ...ekm(socket, length, label) });
      socket.end();
    });
    socket.on('error', (e) => { out({ event: 'error', code: e.code || null }); process.exitCode = 1; });
  } else {
    const [dir, length, label] = args;
    const server = tls.createServer({
      key: fs.readFileSync(path.join(dir, 'server-rsa.key')),
      cert: fs.readFileSync(path.join(dir, 'server-rsa-chain.crt')),
    }, (socket) => {
      out({ event: 'secureConnection', ...ekm(socket, length, label) });
      socket.pipe(socket);
      socket.on('error', () => {});
    });
    server.listen(0, '127.0.0.1', () => out({ event: 'listening', port: server.address().port }));
    process.on('SIGTERM', () => process.exit(0));
  }
} else if (mode === 'alpn-client') {
  // ALPNProtocols (comma-separated); prints secureConnect's alpnProtocol or the error code.
  const [port, dir, protocols] = args;
  const socket = tls.connect({
    host: 'localhost', port: Number(port), servername: 'localhost',
    ca: fs.readFileSync(path.join(dir, 'ca.crt')), ALPNProtocols: protocols.split(','),
  }, () => {
    out({ event: 'secureConnect', alpnProtocol: socket.alpnProtocol || false });
    socket.end();
  });
  socket.on('error', (e) => out({ event: 'error', code: e.code || null }));
} else {
  console.error('usage: node-peer.js server CERTDIR | client PORT CERTDIR TEXT | resume CERTDIR VERSION PORT1 PORT2' +
    ' | sni PORT CERTDIR SERVERNAME | ticket-server CERTDIR HEXKEYS [SESSIONIDCONTEXT]' +
    ' | require-cert-server CERTDIR VERSION | nocert-client PORT CERTDIR VERSION' +
    ' | ekm-client PORT CERTDIR LENGTH LABEL [VERSION] | ekm-server CERTDIR LENGTH LABEL' +
    ' | alpn-client PORT CERTDIR PROTOCOLS');
  process.exit(2);
}
