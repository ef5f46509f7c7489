import { createRequire as __tbuildCreateRequire } from 'node:module';
const require = __tbuildCreateRequire(import.meta.url);

// src/exporter/layer-tar-worker.ts
import { parentPort } from "node:worker_threads";

// src/exporter/layer-tar.ts
import { closeSync, openSync, readdirSync as readdirSync2, readlinkSync, readSync } from "node:fs";

// src/shared/userns.ts
import { readFileSync } from "node:fs";
var ROOTLESS_ENV = "TBUILD_ROOTLESS";
function parseIdMap(text) {
  const ranges = [];
  for (const line of text.split("\n")) {
    const fields = line.trim().split(/\s+/).map(Number);
    if (fields.length !== 3 || fields.some((n) => !Number.isInteger(n))) continue;
    ranges.push({ inside: fields[0], outside: fields[1], count: fields[2] });
  }
  return ranges;
}
function isInitialMap(ranges) {
  return ranges.length === 1 && ranges[0].inside === 0 && ranges[0].outside === 0 && ranges[0].count === 4294967295;
}
function readIdMap(kind) {
  try {
    return parseIdMap(readFileSync(`/proc/self/${kind}_map`, "utf8"));
  } catch {
    return void 0;
  }
}
var cached;
function inUserNamespace(env = process.env) {
  if (env[ROOTLESS_ENV] === "1") return true;
  if (env[ROOTLESS_ENV] === "0") return false;
  cached ??= !isInitialMap(readIdMap("uid") ?? [{ inside: 0, outside: 0, count: 4294967295 }]);
  return cached;
}
function overlayXattrPrefix(env = process.env) {
  return inUserNamespace(env) ? "user.overlay." : "trusted.overlay.";
}
function overlayOpaqueXattr(env = process.env) {
  return `${overlayXattrPrefix(env)}opaque`;
}

// src/shared/errors.ts
var TbuildError = class extends Error {
  code;
  hint;
  /** Where the error points; set at construction, or once later by withLocation. */
  location;
  exitCode;
  /** The file `location` points into, attached by whoever knows it (see withSource). */
  source;
  constructor(code, message, options = {}) {
    super(message, options.cause === void 0 ? void 0 : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = options.hint;
    this.location = options.location;
    this.exitCode = options.exitCode ?? 1;
  }
};

// src/exporter/errors.ts
var ToolError = class extends TbuildError {
  tool;
  constructor(tool, detail, options = {}) {
    super("TBUILD_EXPORTER_TOOL", `${tool} failed: ${detail}`, {
      hint: tool === "getfattr" || tool === "setfattr" ? 'Install the Debian package "attr" (apt-get install attr).' : `Check that ${tool} is installed and that tbuild runs as root.`,
      ...options
    });
    this.tool = tool;
  }
};
var LayerWriteError = class extends TbuildError {
  constructor(message, options = {}) {
    super("TBUILD_LAYER_WRITE", message, {
      hint: "Layers must not change while they are exported; retry the export.",
      ...options
    });
  }
};

// src/exporter/tar-format.ts
var BLOCK = 512;
var TYPEFLAG = {
  file: "0",
  link: "1",
  symlink: "2",
  char: "3",
  block: "4",
  dir: "5",
  fifo: "6"
};
var MAX_OCTAL_7 = 2097151;
var MAX_OCTAL_11 = 8589934591;
function encodeEntryHeader(entry) {
  const { name, fields, records } = headerParts(entry);
  const header = encodeUstar(fields);
  if (records.length === 0) return header;
  const body = Buffer.concat(records);
  const pax = encodeUstar({
    name: asciiTail(`PaxHeaders/${name.split("/").filter(Boolean).pop() ?? ""}`),
    typeflag: "x",
    mode: 420,
    uid: 0,
    gid: 0,
    size: body.length,
    mtime: 0,
    linkname: "",
    devmajor: 0,
    devminor: 0
  });
  return Buffer.concat([pax, body, Buffer.alloc(padding(body.length)), header]);
}
function writePlainHeader(entry, target, offset) {
  const { fields, records } = headerParts(entry);
  if (records.length > 0) return false;
  target.fill(0, offset, offset + BLOCK);
  writeUstar(target, offset, fields);
  return true;
}
function headerParts(entry) {
  const name = entry.type === "dir" ? `${entry.path}/` : entry.path;
  const records = [];
  const fitsName = fitsUstarText(name);
  if (!fitsName) records.push(paxRecord("path", Buffer.from(name)));
  const link = entry.linkpath ?? "";
  const fitsLink = link === "" || fitsUstarText(link);
  if (!fitsLink) records.push(paxRecord("linkpath", Buffer.from(link)));
  if (entry.size > MAX_OCTAL_11) records.push(paxRecord("size", Buffer.from(String(entry.size))));
  if (entry.uid > MAX_OCTAL_7) records.push(paxRecord("uid", Buffer.from(String(entry.uid))));
  if (entry.gid > MAX_OCTAL_7) records.push(paxRecord("gid", Buffer.from(String(entry.gid))));
  if (entry.mtime < 0 || entry.mtime > MAX_OCTAL_11) {
    records.push(paxRecord("mtime", Buffer.from(String(entry.mtime))));
  }
  if (entry.xattrs) {
    for (const key of [...entry.xattrs.keys()].sort()) {
      records.push(paxRecord(`SCHILY.xattr.${key}`, entry.xattrs.get(key)));
    }
  }
  const fields = {
    name: fitsName ? name : asciiTail(name),
    typeflag: TYPEFLAG[entry.type],
    mode: entry.mode & 4095,
    uid: entry.uid > MAX_OCTAL_7 ? 0 : entry.uid,
    gid: entry.gid > MAX_OCTAL_7 ? 0 : entry.gid,
    size: entry.size > MAX_OCTAL_11 ? 0 : entry.size,
    mtime: entry.mtime < 0 || entry.mtime > MAX_OCTAL_11 ? 0 : entry.mtime,
    linkname: fitsLink ? link : "",
    devmajor: entry.devmajor ?? 0,
    devminor: entry.devminor ?? 0
  };
  return { name, fields, records };
}
function padding(size) {
  return (BLOCK - size % BLOCK) % BLOCK;
}
function endOfArchive() {
  return Buffer.alloc(BLOCK * 2);
}
function fitsUstarText(s) {
  return s.length <= 100 && /^[\x20-\x7e]*$/.test(s);
}
function asciiTail(s) {
  return s.replace(/[^\x20-\x7e]/g, "_").slice(-100);
}
function paxRecord(key, value) {
  const base = Buffer.byteLength(` ${key}=`) + value.length + 1;
  let length = base + String(base).length;
  if (String(length).length > String(base).length) length = base + String(length).length;
  return Buffer.concat([Buffer.from(`${length} ${key}=`), value, Buffer.from("\n")]);
}
function encodeUstar(f) {
  const b = Buffer.alloc(BLOCK);
  writeUstar(b, 0, f);
  return b;
}
var USTAR_MAGIC = Buffer.from("ustar\x0000", "latin1");
function writeUstar(b, at, f) {
  b.write(f.name, at, 100, "utf8");
  writeOctal(b, at + 100, 8, f.mode);
  writeOctal(b, at + 108, 8, f.uid);
  writeOctal(b, at + 116, 8, f.gid);
  writeOctal(b, at + 124, 12, f.size);
  writeOctal(b, at + 136, 12, f.mtime);
  b[at + 156] = f.typeflag.charCodeAt(0);
  if (f.linkname !== "") b.write(f.linkname, at + 157, 100, "utf8");
  USTAR_MAGIC.copy(b, at + 257);
  writeNumber(b, at + 329, 8, f.devmajor);
  writeNumber(b, at + 337, 8, f.devminor);
  b.fill(32, at + 148, at + 156);
  let sum = 0;
  for (let i = at; i < at + BLOCK; i++) sum += b[i];
  writeOctal(b, at + 148, 7, sum);
}
function writeOctal(b, offset, width, value) {
  let v = Math.trunc(value);
  for (let i = offset + width - 2; i >= offset; i--) {
    b[i] = 48 + v % 8;
    v = Math.floor(v / 8);
  }
  b[offset + width - 1] = 0;
}
function writeNumber(b, offset, width, value) {
  if (value <= 8 ** (width - 1) - 1) return writeOctal(b, offset, width, value);
  b.fill(0, offset, offset + width);
  b[offset] = 128;
  let v = value;
  for (let i = offset + width - 1; i > offset && v > 0; i--) {
    b[i] = v % 256;
    v = Math.floor(v / 256);
  }
}

// src/exporter/tools.ts
import { spawn } from "node:child_process";
function runTool(tool, args, input) {
  return new Promise((resolve, reject) => {
    const child = spawn(tool, args, { stdio: ["pipe", "pipe", "pipe"] });
    const out = [];
    const err = [];
    child.stdout.on("data", (c) => out.push(c));
    child.stderr.on("data", (c) => err.push(c));
    child.on("error", (e) => reject(new ToolError(tool, e.message, { cause: e })));
    child.on("close", (code, signal) => {
      if (code === 0) return resolve(Buffer.concat(out));
      const stderr = Buffer.concat(err).toString("utf8").trim();
      reject(new ToolError(tool, stderr || `exited with ${code ?? signal}`));
    });
    child.stdin.on("error", () => void 0);
    child.stdin.end(input ?? "");
  });
}
function splitDevice(rdev) {
  const lo = rdev >>> 0;
  const hi = Math.floor(rdev / 2 ** 32) >>> 0;
  const major = (lo >>> 8 & 4095 | hi & 4294963200) >>> 0;
  const minor = (lo & 255 | (lo >>> 12 | hi << 20) & 4294967040) >>> 0;
  return { major, minor };
}

// src/exporter/tree-walk.ts
import { lstatSync, readdirSync } from "node:fs";
function* walkTreeSync(root) {
  yield* walkDirSync(root, "");
}
function* walkDirSync(abs, rel) {
  for (const name of sortNames(readdirSync(abs))) {
    const entryAbs = `${abs}/${name}`;
    const entry = {
      rel: rel === "" ? name : `${rel}/${name}`,
      abs: entryAbs,
      stat: lstatSync(entryAbs)
    };
    yield entry;
    if (entry.stat.isDirectory()) yield* walkDirSync(entry.abs, entry.rel);
  }
}
function sortNames(names) {
  return names.some((name) => SURROGATE.test(name)) ? names.sort(compareBytes) : names.sort();
}
var SURROGATE = /[\uD800-\uDFFF]/;
function compareBytes(a, b) {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

// src/shared/xattr-dump.ts
function parseXattrDump(dump) {
  const map = /* @__PURE__ */ new Map();
  let current;
  for (const line of dump.split("\n")) {
    if (line.startsWith("# file: ")) {
      current = /* @__PURE__ */ new Map();
      map.set(unescapeName(line.slice("# file: ".length)), current);
    } else if (line !== "" && current) {
      const eq = line.indexOf("=");
      const name = unescapeName(eq === -1 ? line : line.slice(0, eq));
      current.set(name, decodeValue(eq === -1 ? "" : line.slice(eq + 1)));
    }
  }
  return map;
}
function decodeValue(text) {
  if (text.startsWith("0s")) return Buffer.from(text.slice(2), "base64");
  if (text.startsWith("0x")) return Buffer.from(text.slice(2), "hex");
  if (text.startsWith('"') && text.endsWith('"')) {
    return Buffer.from(unescapeName(text.slice(1, -1)), "utf8");
  }
  return Buffer.from(text, "latin1");
}
function unescapeName(text) {
  const bytes = Buffer.from(
    text.replace(
      /\\([0-7]{3})|\\\\/g,
      (m, oct) => String.fromCharCode(oct ? parseInt(oct, 8) : 92)
    ),
    "latin1"
  );
  return bytes.toString("utf8");
}

// src/exporter/xattrs.ts
function isOverlayXattr(name) {
  return name.startsWith("trusted.overlay.") || name.startsWith("user.overlay.");
}
async function readXattrs(dir, pattern = "-") {
  const out = await runTool("getfattr", [
    "-R",
    "-h",
    "--absolute-names",
    "-e",
    "base64",
    "-m",
    pattern,
    "-d",
    dir
  ]);
  return parseXattrDump(out.toString("latin1"));
}

// src/exporter/layer-tar.ts
var CHUNK_BYTES = 1024 * 1024;
async function layerXattrs(diffDir, read = readXattrs) {
  return readdirSync2(diffDir).length === 0 ? /* @__PURE__ */ new Map() : read(diffDir);
}
function* layerTarChunks(diffDir, xattrs, options = {}, memory = "fresh", tally) {
  const clamp = (stat) => {
    const seconds = Math.floor(stat.mtimeMs / 1e3);
    const epoch = options.sourceDateEpoch;
    return options.rewriteTimestamps && epoch !== void 0 ? Math.min(seconds, epoch) : seconds;
  };
  const firstLinks = /* @__PURE__ */ new Map();
  const out = new ChunkBuffer(memory);
  for (const item of walkTreeSync(diffDir)) {
    const attrs = xattrs.get(item.abs);
    const entry = toTarEntry(item, clamp(item.stat), attrs, firstLinks);
    if (entry === void 0) continue;
    if (tally && (entry.type === "file" || entry.type === "symlink"))
      tally.contentBytes += item.stat.size;
    out.header(entry);
    if (entry.type === "file" && entry.size > 0) {
      yield* out.appendFile(item.abs, entry.size);
      out.zeros(padding(entry.size));
    }
    if (entry.type === "dir" && attrs?.get(overlayOpaqueXattr())?.toString() === "y") {
      out.header(opaqueMarker(entry));
    }
    if (out.full()) yield out.take();
  }
  out.append(endOfArchive());
  yield out.take();
}
var ChunkBuffer = class {
  #next;
  #buf;
  #pos = 0;
  constructor(memory) {
    this.#next = memory === "fresh" ? () => Buffer.allocUnsafe(CHUNK_BYTES) : memory;
  }
  full() {
    return this.#pos >= CHUNK_BYTES;
  }
  take() {
    const chunk = (this.#buf ?? Buffer.alloc(0)).subarray(0, this.#pos);
    this.#buf = void 0;
    this.#pos = 0;
    return chunk;
  }
  /** Small pieces (headers): may overshoot the chunk size, which take() allows for. */
  append(data) {
    const buf = this.#room(data.length);
    data.copy(buf, this.#pos);
    this.#pos += data.length;
  }
  /** An entry's header, written in place when it is one plain block. */
  header(entry) {
    if (writePlainHeader(entry, this.#room(BLOCK), this.#pos)) this.#pos += BLOCK;
    else this.append(encodeEntryHeader(entry));
  }
  zeros(count) {
    if (count <= 0) return;
    this.#room(count).fill(0, this.#pos, this.#pos + count);
    this.#pos += count;
  }
  /** Exactly `size` bytes of a file, yielding full chunks; fails if the file shrank. */
  *appendFile(path, size) {
    const fd = openSync(path, "r");
    try {
      let read = 0;
      while (read < size) {
        if (this.full()) yield this.take();
        const buf = this.#room(1);
        const room = Math.min(CHUNK_BYTES - this.#pos, size - read);
        const n = readSync(fd, buf, this.#pos, room, read);
        if (n === 0) throw changedSize(path);
        this.#pos += n;
        read += n;
      }
    } finally {
      closeSync(fd);
    }
  }
  /** The buffer being written, with room for `bytes` more (grown past the chunk if need be). */
  #room(bytes) {
    const buf = this.#buf ??= this.#next();
    if (this.#pos + bytes <= buf.length) return buf;
    const grown = Buffer.allocUnsafe(this.#pos + bytes);
    buf.copy(grown, 0, 0, this.#pos);
    return this.#buf = grown;
  }
};
function whiteoutEntry(path, mtime, uid = 0, gid = 0) {
  return { path, type: "file", mode: 384, uid, gid, size: 0, mtime };
}
function opaqueMarker(dir) {
  return {
    path: `${dir.path}/.wh..wh..opq`,
    type: "file",
    mode: dir.mode & 511,
    uid: dir.uid,
    gid: dir.gid,
    size: 0,
    mtime: 0
  };
}
function toTarEntry(item, mtime, attrs, firstLinks) {
  const { stat, rel } = item;
  if (stat.isCharacterDevice() && stat.rdev === 0) {
    const slash = rel.lastIndexOf("/");
    const name = `${rel.slice(0, slash + 1)}.wh.${rel.slice(slash + 1)}`;
    return whiteoutEntry(name, mtime, stat.uid, stat.gid);
  }
  const xattrs = keptXattrs(attrs);
  const base = {
    path: rel,
    type: "file",
    mode: stat.mode & 4095,
    uid: stat.uid,
    gid: stat.gid,
    size: 0,
    mtime,
    ...xattrs && { xattrs }
  };
  if (stat.isDirectory()) return { ...base, type: "dir" };
  if (stat.isSymbolicLink()) return { ...base, type: "symlink", linkpath: readlinkSync(item.abs) };
  if (stat.isFIFO()) return { ...base, type: "fifo" };
  if (stat.isCharacterDevice() || stat.isBlockDevice()) {
    const { major, minor } = splitDevice(stat.rdev);
    const type = stat.isCharacterDevice() ? "char" : "block";
    return { ...base, type, devmajor: major, devminor: minor };
  }
  if (!stat.isFile()) return void 0;
  if (stat.nlink > 1) {
    const key = `${stat.dev}:${stat.ino}`;
    const first = firstLinks.get(key);
    if (first !== void 0) return { ...base, type: "link", linkpath: first };
    firstLinks.set(key, rel);
  }
  return { ...base, size: stat.size };
}
function keptXattrs(attrs) {
  if (attrs === void 0) return void 0;
  const kept = new Map([...attrs].filter(([name]) => !isOverlayXattr(name)));
  return kept.size > 0 ? kept : void 0;
}
function changedSize(path) {
  return new LayerWriteError(`file ${path} changed size while its layer was being written`);
}

// src/exporter/layer-tar-ring.ts
var RING_SLOTS = 8;
var SLOT_BYTES = (1 << 20) + (64 << 10);
var PUBLISHED = 0;
var CONSUMED = 1;
var STATE = 2;
var LENGTHS = 3;
var RING_DONE = 1;
var RING_FAILED = 2;

// src/exporter/layer-tar-worker.ts
function produce({ diffDir, options, control, data, tally }, xattrs) {
  const c = new Int32Array(control);
  const slotBytes = data.byteLength / RING_SLOTS;
  const counted = { contentBytes: 0 };
  let handed = 0;
  let published = 0;
  const handOut = () => {
    for (let seen = Atomics.load(c, CONSUMED); handed - seen >= RING_SLOTS; ) {
      Atomics.wait(c, CONSUMED, seen);
      seen = Atomics.load(c, CONSUMED);
    }
    return handed++ % RING_SLOTS;
  };
  const view = (slot) => Buffer.from(data, slot * slotBytes, slotBytes);
  const publish = (slot, length) => {
    c[LENGTHS + slot] = length;
    Atomics.store(c, PUBLISHED, ++published);
    Atomics.notify(c, PUBLISHED);
  };
  for (const chunk of layerTarChunks(diffDir, xattrs, options, () => view(handOut()), counted)) {
    if (chunk.buffer === data) {
      publish(chunk.byteOffset / slotBytes, chunk.length);
      continue;
    }
    for (let offset = 0; offset < chunk.length; offset += slotBytes) {
      const piece = chunk.subarray(offset, offset + slotBytes);
      const slot = handed > published ? published % RING_SLOTS : handOut();
      view(slot).set(piece);
      publish(slot, piece.length);
    }
  }
  new Float64Array(tally)[0] = counted.contentBytes;
}
function asBuffers(xattrs) {
  for (const attrs of xattrs.values())
    for (const [name, value] of attrs)
      if (!Buffer.isBuffer(value))
        attrs.set(name, Buffer.from(value.buffer, value.byteOffset, value.byteLength));
  return xattrs;
}
async function main(task) {
  const c = new Int32Array(task.control);
  try {
    produce(task, task.xattrs ? asBuffers(task.xattrs) : await layerXattrs(task.diffDir));
    Atomics.store(c, STATE, RING_DONE);
  } catch (error) {
    parentPort.postMessage({ error: error.message });
    Atomics.store(c, STATE, RING_FAILED);
  }
  Atomics.notify(c, PUBLISHED);
}
parentPort.on("message", (task) => void main(task));
