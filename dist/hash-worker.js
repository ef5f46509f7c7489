import { createRequire as __tbuildCreateRequire } from 'node:module';
const require = __tbuildCreateRequire(import.meta.url);

// src/engine/context/hash-worker.ts
import { parentPort, workerData } from "node:worker_threads";

// src/engine/context/hash-file.ts
import { createHash } from "node:crypto";
import { closeSync, openSync, readSync } from "node:fs";
var BUFFER_BYTES = 1 << 20;
var buffer;
function hashFileSync(abs) {
  buffer ??= Buffer.allocUnsafe(BUFFER_BYTES);
  const hash = createHash("sha256");
  const fd = openSync(abs, "r");
  try {
    for (let n = readSync(fd, buffer, 0, BUFFER_BYTES, null); n > 0; ) {
      hash.update(buffer.subarray(0, n));
      n = readSync(fd, buffer, 0, BUFFER_BYTES, null);
    }
  } finally {
    closeSync(fd);
  }
  return `sha256:${hash.digest("hex")}`;
}
function hashOutcome(abs) {
  try {
    return { digest: hashFileSync(abs) };
  } catch (err) {
    const { message, code } = err;
    return code === void 0 ? { error: message } : { error: message, code };
  }
}

// src/engine/context/hash-worker.ts
parentPort.postMessage(workerData.files.map(hashOutcome));
