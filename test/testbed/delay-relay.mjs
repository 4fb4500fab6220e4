#!/usr/bin/env node
// Usage: delay-relay.mjs DELAY_MS HOST PORT
//   An ssh ProxyCommand that adds DELAY_MS of latency each way: bytes from
//   stdin reach HOST:PORT, and bytes from it reach stdout, DELAY_MS after
//   they arrived, in order. The testbed kernel has no netem; this stands in
//   for a long link (scripts/bench streams). Bandwidth is not limited; a
//   side whose writer is full stops reading until it drains, so memory stays
//   bounded by what arrives in DELAY_MS plus the socket buffers.
import { connect } from 'node:net';

const [delayText, host, portText] = process.argv.slice(2);
const delay = Number(delayText);
const port = Number(portText);
if (!(delay >= 0) || !host || !(port > 0 && port < 65536)) {
  process.stderr.write('usage: delay-relay.mjs DELAY_MS HOST PORT\n');
  process.exit(2);
}

/** Copies `from` to `to`, each chunk DELAY_MS after it arrived (timers of one duration fire in order). */
function delayed(from, to) {
  let waiting = 0;
  from.on('data', (chunk) => {
    waiting += 1;
    setTimeout(() => {
      waiting -= 1;
      if (!to.write(chunk)) {
        from.pause();
        to.once('drain', () => from.resume());
      }
    }, delay);
  });
  from.on('end', () => {
    const finish = () => (waiting === 0 ? to.end() : setTimeout(finish, delay));
    setTimeout(finish, delay);
  });
}

const sock = connect({ host, port, noDelay: true });
sock.on('error', (err) => {
  process.stderr.write(`delay-relay: ${host}:${port}: ${err.message}\n`);
  process.exit(1);
});
sock.on('close', () => setTimeout(() => process.exit(0), delay + 10));
delayed(process.stdin, sock);
delayed(sock, process.stdout);
