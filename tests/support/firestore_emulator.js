#!/usr/bin/env node
// Test-only launcher for the npm Firestore emulator (@firestore-emulator/server).
//
//   node tests/support/firestore_emulator.js PORT
//
// The package ships no CLI, so this starts `new FirestoreServer()` on PORT. The
// server binds 0.0.0.0 itself, so 127.0.0.1:PORT (what the Python client is
// pointed at) works. Once bound it prints one ready line to stdout.
//
// It exits on SIGTERM/SIGINT and when its stdin closes: the Python side keeps a
// pipe to stdin open, so the emulator also dies when the test process dies
// without cleaning up (kill -9, crash), instead of lingering on the port.
//
// The emulator is NOT faithful Firestore; see the module docstring of
// tests/support/firestore_emulator.py and shared/reference/local-stand-ins.md.
"use strict";

const { FirestoreServer } = require("@firestore-emulator/server");

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  process.stderr.write("usage: node tests/support/firestore_emulator.js PORT\n");
  process.exit(2);
}

const server = new FirestoreServer();
let stopping = false;

function shutdown(code) {
  if (stopping) return;
  stopping = true;
  try {
    server.stop();
  } catch (err) {
    process.stderr.write(`firestore-emulator: error while stopping: ${err}\n`);
  }
  process.exit(code);
}

process.on("SIGTERM", () => shutdown(0));
process.on("SIGINT", () => shutdown(0));
process.stdin.on("end", () => shutdown(0));
process.stdin.on("close", () => shutdown(0));
process.stdin.on("error", () => shutdown(0));
process.stdin.resume();

server.start(port).then(
  () => {
    process.stdout.write(`firestore-emulator ready on 127.0.0.1:${port}\n`);
  },
  (err) => {
    process.stderr.write(`firestore-emulator: cannot listen on port ${port}: ${err}\n`);
    shutdown(1);
  },
);
