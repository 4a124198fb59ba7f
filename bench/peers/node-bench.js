// node-bench.js: the benchmark protocol (docs/benchmark.md) spoken by Node.js's
// own `tls` module, the API portls reproduces in C. scripts/bench.sh runs it
// with the `node` on PATH, side by side with bench/portls-bench.c and
// bench/peers/libevent-bench.c.
//
//   node node-bench.js server PORT CERTDIR ec|rsa
//       prints "listening"; on SIGTERM "rss_kb N conns M"; with RSS_FILE set,
//       rewrites that file with "RSS_KB CONNS" every 200 ms
//   node node-bench.js bulk PORT MB                  -> "bulk_MBps X"
//   node node-bench.js hs PORT SECONDS CONC [resume] -> "hs_per_s X", "resumed_ratio R"
//   node node-bench.js idle PORT N                   -> "opened N", then waits for SIGTERM
//
// Clients exit 1 on any connection error (stderr says which), like the other
// two implementations.
'use strict';

const tls = require('node:tls');
const fs = require('node:fs');

const HOST = '127.0.0.1';
const CHUNK_BYTES = 64 * 1024;

// Both sides: TLS 1.3 and nothing else, one suite.
const protocol = {
  minVersion: 'TLSv1.3',
  maxVersion: 'TLSv1.3',
  ciphersuites: 'TLS_AES_128_GCM_SHA256',
};

const seconds = () => Number(process.hrtime.bigint()) / 1e9;
const rssKiB = () => Math.round(process.memoryUsage.rss() / 1024);

function usage() {
  process.stderr.write(
    'usage: node-bench.js server PORT CERTDIR ec|rsa\n' +
      '       node-bench.js bulk PORT MB\n' +
      '       node-bench.js hs PORT SECONDS CONC [resume]\n' +
      '       node-bench.js idle PORT N\n');
  process.exit(2);
}

function dial(port, extra, onSecure) {
  return tls.connect({ host: HOST, port, rejectUnauthorized: false, ...protocol, ...extra }, onSecure);
}

// ------------------------------------------------------------------ server
function server(port, dir, kind) {
  let open = 0; // connections accepted and not yet closed
  const srv = tls.createServer(
    {
      key: fs.readFileSync(`${dir}/${kind}-key.pem`),
      cert: fs.readFileSync(`${dir}/${kind}-cert.pem`),
      ...protocol,
    },
    (sock) => {
      let received = 0;
      sock.on('data', (buf) => { received += buf.length; });
      sock.on('end', () => sock.end(`${received}\n`));
      sock.on('error', () => {}); // a client that vanishes is not the server's failure
    });
  srv.on('connection', (raw) => {
    open++;
    raw.once('close', () => { open--; });
  });
  srv.on('tlsClientError', () => {});
  srv.on('error', (e) => { console.error(`server: ${e.message}`); process.exit(1); });
  srv.listen(port, HOST, () => console.log('listening'));

  const rssFile = process.env.RSS_FILE;
  if (rssFile) {
    // Written to a temporary name and renamed, so a reader never sees half a line.
    setInterval(() => {
      fs.writeFileSync(`${rssFile}.tmp`, `${rssKiB()} ${open}\n`);
      fs.renameSync(`${rssFile}.tmp`, rssFile);
    }, 200);
  }
  process.on('SIGTERM', () => {
    process.stdout.write(`rss_kb ${rssKiB()} conns ${open}\n`, () => process.exit(0));
  });
}

// -------------------------------------------------------------------- bulk
function bulk(port, mib) {
  const total = mib * 1024 * 1024;
  const chunk = Buffer.alloc(CHUNK_BYTES, 7);
  const start = seconds(); // the handshake is part of the figure
  let queued = 0;
  let reply = '';
  const sock = dial(port, {}, () => send());
  function send() {
    while (queued < total) {
      queued += chunk.length;
      if (!sock.write(chunk)) {
        sock.once('drain', send);
        return;
      }
    }
    sock.end();
  }
  sock.setEncoding('latin1');
  sock.on('data', (text) => { reply += text; });
  sock.on('end', () => {
    const elapsed = seconds() - start;
    if (reply !== `${total}\n`) {
      console.error(`short reply ${JSON.stringify(reply)} (expected ${total})`);
      process.exit(1);
    }
    console.log(`bulk_MBps ${(total / 1048576 / elapsed).toFixed(1)}`);
  });
  sock.on('error', (e) => { console.error(`bulk: ${e.message}`); process.exit(1); });
}

// ---------------------------------------------------------------------- hs
function hs(port, secs, conc, resume) {
  const start = seconds();
  let session; // the newest session any connection received
  let done = 0, reused = 0, errors = 0, stopped = 0;

  function loop() {
    const now = seconds();
    if (now - start > secs) {
      if (++stopped === conc) {
        console.log(`hs_per_s ${(done / (now - start)).toFixed(0)}`);
        console.log(`resumed_ratio ${(done ? reused / done : 0).toFixed(3)}`);
        if (errors) {
          console.error(`hs errors ${errors}`);
          process.exitCode = 1;
        }
      }
      return;
    }
    const sock = dial(port, resume && session ? { session } : {}, () => {
      if (sock.isSessionReused()) reused++;
      sock.end();
    });
    if (resume) sock.on('session', (s) => { session = s; });
    sock.resume(); // the server's reply is not looked at
    sock.on('error', (e) => {
      if (errors++ < 5) console.error(`hs: ${e.message}`);
    });
    sock.on('close', (hadError) => {
      if (!hadError) done++;
      loop();
    });
  }
  for (let i = 0; i < conc; i++) loop();
}

// -------------------------------------------------------------------- idle
function idle(port, n) {
  const held = [];
  function next() {
    if (held.length >= n) {
      console.log(`opened ${held.length}`);
      return;
    }
    const sock = dial(port, {}, () => {
      held.push(sock);
      next();
    });
    sock.on('error', (e) => { console.error(`idle: ${e.message}`); process.exit(1); });
  }
  process.on('SIGTERM', () => process.exit(0));
  next();
}

// -------------------------------------------------------------------- main
const [mode, portArg, ...rest] = process.argv.slice(2);
const port = Number(portArg);
if (!mode || !Number.isInteger(port)) usage();
switch (mode) {
  case 'server':
    if (rest.length < 1) usage();
    server(port, rest[0], rest[1] || 'ec');
    break;
  case 'bulk':
    if (rest.length < 1) usage();
    bulk(port, Number(rest[0]));
    break;
  case 'hs':
    if (rest.length < 2) usage();
    hs(port, Number(rest[0]), Math.max(1, Number(rest[1]) || 1), rest[2] === 'resume');
    break;
  case 'idle':
    if (rest.length < 1) usage();
    idle(port, Number(rest[0]));
    break;
  default:
    usage();
}
