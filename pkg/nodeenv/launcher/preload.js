// Loaded (node --require) before jsii's kernel, lib/program.js. The kernel
// speaks the jsii API on descriptor 3, which jsii's node wrapper connects
// to its own stdin and stdout; here the kernel runs in the process jsii's
// client started, so its reads of descriptor 3 read stdin and its writes
// go to stdout. What the kernel's code prints on its stdout reaches
// jsii's client as the {"stdout": base64} lines on stderr the wrapper
// would write (the client prints them on its own stdout); stderr passes
// through, as the client prints lines that are not such messages as they
// are.
"use strict";
const fs = require("fs");
const { Writable } = require("stream");

const api = 3;
const readSync = fs.readSync;
const writeSync = fs.writeSync;
fs.readSync = function (fd, ...rest) {
  return readSync.call(this, fd === api ? 0 : fd, ...rest);
};
fs.writeSync = function (fd, ...rest) {
  return writeSync.call(this, fd === api ? 1 : fd, ...rest);
};

const stdout = new Writable({
  write(chunk, _encoding, done) {
    const line = JSON.stringify({ stdout: chunk.toString("base64") }) + "\n";
    try {
      writeSync(2, line);
      done();
    } catch (err) {
      done(err);
    }
  },
});
stdout.fd = 1;
stdout.isTTY = false;
Object.defineProperty(process, "stdout", { configurable: true, enumerable: true, get: () => stdout });
