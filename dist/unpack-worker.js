import { createRequire as __tbuildCreateRequire } from 'node:module';
const require = __tbuildCreateRequire(import.meta.url);

// src/exporter/unpack-worker.ts
import { parentPort, workerData } from "node:worker_threads";

// src/shared/errors.ts
var TbuildError = class extends Error {
  code;
  hint;
  /** Where the error points; set at construction, or once later by withLocation. */
  location;
  exitCode;
  /** The file `location` points into, attached by whoever knows it (see withSource). */
  source;
  constructor(code, message, options2 = {}) {
    super(message, options2.cause === void 0 ? void 0 : { cause: options2.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = options2.hint;
    this.location = options2.location;
    this.exitCode = options2.exitCode ?? 1;
  }
};

// src/exporter/layer-unpack.ts
import { createHash } from "node:crypto";
import {
  chmodSync,
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  futimesSync,
  lchownSync,
  linkSync,
  lstatSync as lstatSync2,
  lutimesSync,
  mkdirSync as mkdirSync2,
  openSync,
  symlinkSync,
  utimesSync,
  writeSync
} from "node:fs";
import { mkdir } from "node:fs/promises";

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

// src/exporter/compression.ts
import { Readable } from "node:stream";
import { pipeline } from "node:stream";

// src/exporter/errors.ts
var PathEscapeError = class extends TbuildError {
  entry;
  constructor(entry, reason, options2 = {}) {
    super("TBUILD_LAYER_PATH_ESCAPE", `layer entry "${entry}" ${reason}`, {
      hint: "The layer is malformed or hostile: rebuild or re-pull it from a trusted source.",
      ...options2
    });
    this.entry = entry;
  }
};
var TarFormatError = class extends TbuildError {
  constructor(message, options2 = {}) {
    super("TBUILD_LAYER_TAR_INVALID", message, {
      hint: "The layer blob is corrupt or not a tar archive: delete it from the store and pull or build it again.",
      ...options2
    });
  }
};
var DeviceNodeError = class extends TbuildError {
  entry;
  constructor(entry, detail, options2 = {}) {
    super("TBUILD_LAYER_DEVICE_NODE", `cannot create device node "${entry}": ${detail}`, {
      hint: "Creating device nodes needs root (CAP_MKNOD); run tbuild as root or remove the device from the image.",
      ...options2
    });
    this.entry = entry;
  }
};
var UnmappedOwnerError = class extends TbuildError {
  constructor(entry, uid, gid, options2 = {}) {
    super(
      "TBUILD_LAYER_UNMAPPED_OWNER",
      `layer entry "${entry}" is owned by ${uid}:${gid}, which this rootless build's user namespace does not map`,
      {
        hint: 'Give your user 65536 subordinate ids (sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 "$USER"), or build as root.',
        ...options2
      }
    );
  }
};
var ToolError = class extends TbuildError {
  tool;
  constructor(tool, detail, options2 = {}) {
    super("TBUILD_EXPORTER_TOOL", `${tool} failed: ${detail}`, {
      hint: tool === "getfattr" || tool === "setfattr" ? 'Install the Debian package "attr" (apt-get install attr).' : `Check that ${tool} is installed and that tbuild runs as root.`,
      ...options2
    });
    this.tool = tool;
  }
};

// src/exporter/zlib.ts
var zlib = () => process.getBuiltinModule("node:zlib");

// src/exporter/parallel-gzip.ts
var GZIP_CHUNK_SIZE = 1024 * 1024;
var WINDOW = 32 * 1024;

// src/exporter/compression.ts
function detectCompression(head) {
  if (head[0] === 31 && head[1] === 139) return "gzip";
  if (head[0] === 40 && head[1] === 181 && head[2] === 47 && head[3] === 253) return "zstd";
  return "uncompressed";
}
var DECOMPRESSED_CHUNK = 256 * 1024;
async function openDecompressed(source, onRaw) {
  const it = source[Symbol.asyncIterator]();
  const head = [];
  let headLength = 0;
  let done = false;
  while (headLength < 4 && !done) {
    const next = await it.next();
    if (next.done) done = true;
    else {
      head.push(next.value);
      headLength += next.value.length;
    }
  }
  const first = Buffer.concat(head);
  const compression = detectCompression(first);
  async function* raw() {
    onRaw(first);
    yield first;
    if (done) return;
    for (let next = await it.next(); !next.done; next = await it.next()) {
      onRaw(next.value);
      yield next.value;
    }
  }
  if (compression === "uncompressed") return { compression, stream: raw() };
  const options2 = { chunkSize: DECOMPRESSED_CHUNK };
  const decompressor = compression === "gzip" ? zlib().createGunzip(options2) : zlib().createZstdDecompress(options2);
  const stream = pipeline(Readable.from(raw()), decompressor, () => void 0);
  return { compression, stream };
}

// src/exporter/safe-tree.ts
import { lstatSync, mkdirSync, rmSync } from "node:fs";
import { join, posix } from "node:path";
function cleanEntryPath(name) {
  const normal = posix.normalize(name.replace(/^\/+/, "")).replace(/\/+$/, "");
  if (normal === ".." || normal.startsWith("../")) {
    throw new PathEscapeError(name, 'resolves outside the layer root (contains "..")');
  }
  return normal === "." ? "" : normal;
}
function parentOf(rel) {
  const slash = rel.lastIndexOf("/");
  return slash === -1 ? "" : rel.slice(0, slash);
}
var SafeTree = class {
  root;
  #dirs = /* @__PURE__ */ new Set([""]);
  constructor(root) {
    this.root = root;
  }
  abs(rel) {
    return rel === "" ? this.root : join(this.root, rel);
  }
  /** True when `rel`'s parent is a verified real directory (safe to create `rel` in). */
  hasSafeParent(rel) {
    return this.#dirs.has(parentOf(rel));
  }
  isDir(rel) {
    return this.#dirs.has(rel);
  }
  markDir(rel) {
    this.#dirs.add(rel);
  }
  /**
   * Make sure every ancestor of `rel` is a real directory, creating missing ones (0755).
   * A symlink or a non-directory on the way is refused: writing there would land
   * wherever the link points.
   */
  ensureParent(rel, entryName) {
    const parent = parentOf(rel);
    if (this.#dirs.has(parent)) return;
    let current = "";
    for (const part of parent.split("/")) {
      current = current === "" ? part : `${current}/${part}`;
      if (this.#dirs.has(current)) continue;
      const stat = lstatSync(this.abs(current), { throwIfNoEntry: false });
      if (stat === void 0) mkdirSync(this.abs(current), { mode: 493 });
      else if (stat.isSymbolicLink()) {
        throw new PathEscapeError(entryName, `would be written through the symlink "${current}"`);
      } else if (!stat.isDirectory()) {
        throw new PathEscapeError(entryName, `has a parent "${current}" that is not a directory`);
      }
      this.#dirs.add(current);
    }
  }
  /**
   * Clear the way for a new entry at `rel`: an existing directory stays when the new
   * entry is a directory too; anything else there is removed.
   * Returns whether a directory was kept.
   */
  prepare(rel, keepDirectory) {
    const path = this.abs(rel);
    const stat = lstatSync(path, { throwIfNoEntry: false });
    if (stat === void 0) return false;
    if (stat.isDirectory() && keepDirectory) return true;
    rmSync(path, { recursive: true, force: true });
    this.#forget(rel);
    return false;
  }
  #forget(rel) {
    const prefix = `${rel}/`;
    for (const dir of this.#dirs) if (dir === rel || dir.startsWith(prefix)) this.#dirs.delete(dir);
  }
};

// src/exporter/special-files.ts
import { link } from "node:fs/promises";

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

// src/exporter/special-files.ts
async function makeNode(path, type, mode, major = 0, minor = 0) {
  const code = type === "char" ? "c" : type === "block" ? "b" : "p";
  const numbers = type === "fifo" ? [] : [String(major), String(minor)];
  try {
    await runTool("mknod", ["-m", (mode & 4095).toString(8), path, code, ...numbers]);
  } catch (err) {
    if (err instanceof ToolError) throw new DeviceNodeError(path, err.message, { cause: err });
    throw err;
  }
}
async function makeWhiteouts(paths) {
  const [first, ...rest] = paths;
  if (first === void 0) return;
  await makeNode(first, "char", 0);
  for (const path of rest) await link(first, path);
}

// src/exporter/tar-format.ts
var BLOCK = 512;
function padding(size) {
  return (BLOCK - size % BLOCK) % BLOCK;
}
var USTAR_MAGIC = Buffer.from("ustar\x0000", "latin1");
function decodeHeader(block) {
  if (block.every((byte) => byte === 0)) return null;
  const stored = readNumber(block, 148, 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const byte = i >= 148 && i < 156 ? 32 : block[i];
    unsigned += byte;
    signed += byte > 127 ? byte - 256 : byte;
  }
  if (stored !== unsigned && stored !== signed) {
    throw new TarFormatError("tar header checksum mismatch: the stream is not a valid tar archive");
  }
  const magic = block.toString("latin1", 257, 263);
  let name = readString(block, 0, 100);
  const prefix = magic === "ustar\0" ? readString(block, 345, 155) : "";
  if (prefix !== "") name = `${prefix}/${name}`;
  return {
    name,
    mode: readNumber(block, 100, 8),
    uid: readNumber(block, 108, 8),
    gid: readNumber(block, 116, 8),
    size: readNumber(block, 124, 12),
    mtime: readNumber(block, 136, 12),
    typeflag: block.toString("latin1", 156, 157),
    linkname: readString(block, 157, 100),
    devmajor: readNumber(block, 329, 8),
    devminor: readNumber(block, 337, 8)
  };
}
function readString(b, offset, width) {
  const field = b.subarray(offset, offset + width);
  const end = field.indexOf(0);
  return field.toString("utf8", 0, end === -1 ? width : end);
}
function readNumber(b, offset, width) {
  if ((b[offset] & 128) !== 0) {
    let v = b[offset] & 127;
    for (let i = offset + 1; i < offset + width; i++) v = v * 256 + b[i];
    return v;
  }
  const text = b.toString("latin1", offset, offset + width).replace(/^[ \0]+/, "").replace(/[\0 ].*$/s, "");
  if (text === "") return 0;
  if (!/^[0-7]+$/.test(text)) {
    throw new TarFormatError(`tar header has an invalid number field "${text}"`);
  }
  return parseInt(text, 8);
}
function decodePaxRecords(body) {
  const out = /* @__PURE__ */ new Map();
  let pos = 0;
  while (pos < body.length) {
    if (body[pos] === 0) break;
    const space = body.indexOf(32, pos);
    const length = parseInt(body.toString("latin1", pos, space), 10);
    if (space === -1 || !Number.isInteger(length) || length <= 0 || pos + length > body.length) {
      throw new TarFormatError("tar PAX header has a malformed record");
    }
    const record = body.subarray(space + 1, pos + length - 1);
    const eq = record.indexOf(61);
    if (eq === -1) throw new TarFormatError('tar PAX record has no "="');
    out.set(record.toString("utf8", 0, eq), Buffer.from(record.subarray(eq + 1)));
    pos += length;
  }
  return out;
}

// src/exporter/tar-reader.ts
var TYPES = {
  "0": "file",
  "\0": "file",
  "7": "file",
  "1": "link",
  "2": "symlink",
  "3": "char",
  "4": "block",
  "5": "dir",
  "6": "fifo"
};
var ByteReader = class {
  #it;
  #buf = Buffer.alloc(0);
  #done = false;
  constructor(source) {
    this.#it = source[Symbol.asyncIterator]();
  }
  async #pull() {
    if (this.#done) return false;
    const next = await this.#it.next();
    if (next.done) {
      this.#done = true;
      return false;
    }
    const chunk = Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    return true;
  }
  /** Exactly `n` bytes, or fewer only at end of stream. */
  async read(n) {
    while (this.#buf.length < n && await this.#pull()) ;
    const out = this.#buf.subarray(0, n);
    this.#buf = this.#buf.subarray(out.length);
    return out;
  }
  async readExact(n, what) {
    const out = await this.read(n);
    if (out.length < n) throw new TarFormatError(`tar archive is truncated inside ${what}`);
    return out;
  }
  /** Up to `n` bytes as they arrive. */
  async *take(n, what) {
    let left = n;
    while (left > 0) {
      if (this.#buf.length === 0 && !await this.#pull()) {
        throw new TarFormatError(`tar archive is truncated inside ${what}`);
      }
      const out = this.#buf.subarray(0, left);
      this.#buf = this.#buf.subarray(out.length);
      left -= out.length;
      yield out;
    }
  }
  async skip(n, what) {
    for await (const _ of this.take(n, what)) ;
  }
  /** Read to the end of the stream (so a hash over it is complete). */
  async drain() {
    this.#buf = Buffer.alloc(0);
    while (await this.#pull()) this.#buf = Buffer.alloc(0);
  }
};
async function readTarEntries(source, onEntry) {
  const reader = new ByteReader(source);
  let local = /* @__PURE__ */ new Map();
  const global = /* @__PURE__ */ new Map();
  for (; ; ) {
    const block = await reader.read(BLOCK);
    if (block.length === 0) break;
    if (block.length < BLOCK) throw new TarFormatError("tar archive ends inside a header");
    const raw = decodeHeader(block);
    if (raw === null) break;
    const what = `entry "${raw.name}"`;
    if (raw.typeflag === "x" || raw.typeflag === "g" || raw.typeflag === "L" || raw.typeflag === "K") {
      const body = await reader.readExact(raw.size, what);
      await reader.skip(padding(raw.size), what);
      if (raw.typeflag === "x") local = new Map([...local, ...decodePaxRecords(body)]);
      else if (raw.typeflag === "g") for (const [k, v] of decodePaxRecords(body)) global.set(k, v);
      else local.set(raw.typeflag === "L" ? "path" : "linkpath", cString(body));
      continue;
    }
    const entry = applyExtended(raw, new Map([...global, ...local]));
    local = /* @__PURE__ */ new Map();
    const dataSize = entry.type === "file" ? entry.size : 0;
    const counter = { left: dataSize };
    await onEntry(entry, countedBody(reader, counter, what));
    await reader.skip(counter.left + padding(dataSize), what);
  }
  await reader.drain();
}
async function* countedBody(reader, counter, what) {
  for await (const chunk of reader.take(counter.left, what)) {
    counter.left -= chunk.length;
    yield chunk;
  }
}
function cString(b) {
  const end = b.indexOf(0);
  return end === -1 ? b : b.subarray(0, end);
}
function applyExtended(raw, ext) {
  const type = TYPES[raw.typeflag];
  if (type === void 0) {
    throw new TarFormatError(
      `tar entry "${raw.name}" has unsupported type "${raw.typeflag}" (sparse and volume entries are not supported)`
    );
  }
  const num = (key, fallback) => {
    const v = ext.get(key);
    if (v === void 0) return fallback;
    const n = Number(v.toString("latin1"));
    if (!Number.isFinite(n))
      throw new TarFormatError(`tar PAX ${key} "${v.toString()}" is not a number`);
    return n;
  };
  const xattrs = /* @__PURE__ */ new Map();
  for (const [key, value] of ext) {
    if (key.startsWith("SCHILY.xattr.")) xattrs.set(key.slice("SCHILY.xattr.".length), value);
  }
  const path = ext.get("path")?.toString("utf8") ?? raw.name;
  const linkpath = ext.get("linkpath")?.toString("utf8") ?? raw.linkname;
  return {
    path,
    type: type === "file" && path.endsWith("/") ? "dir" : type,
    mode: raw.mode & 4095,
    uid: num("uid", raw.uid),
    gid: num("gid", raw.gid),
    size: num("size", raw.size),
    mtime: Math.floor(num("mtime", raw.mtime)),
    ...type === "link" || type === "symlink" ? { linkpath } : {},
    ...type === "char" || type === "block" ? { devmajor: raw.devmajor, devminor: raw.devminor } : {},
    ...xattrs.size > 0 ? { xattrs } : {}
  };
}

// src/shared/xattr-dump.ts
function formatXattrDump(map) {
  let out = "";
  for (const [path, attrs] of map) {
    if (attrs.size === 0) continue;
    out += `# file: ${escapeName(path)}
`;
    for (const [name, value] of attrs) out += `${escapeName(name)}=0s${value.toString("base64")}
`;
    out += "\n";
  }
  return out;
}
function escapeName(name) {
  let out = "";
  for (const byte of Buffer.from(name, "utf8")) {
    out += byte <= 32 || byte >= 127 || byte === 92 || byte === 61 ? `\\${byte.toString(8).padStart(3, "0")}` : String.fromCharCode(byte);
  }
  return out;
}

// src/exporter/xattrs.ts
function isOverlayXattr(name) {
  return name.startsWith("trusted.overlay.") || name.startsWith("user.overlay.");
}
async function writeXattrs(map) {
  const dump = formatXattrDump(map);
  if (dump !== "") await runTool("setfattr", ["-h", "--restore=-"], Buffer.from(dump, "latin1"));
}

// src/exporter/layer-unpack.ts
var WHITEOUT_PREFIX = ".wh.";
var OPAQUE_MARKER = ".wh..wh..opq";
async function unpackLayer(stream, diffDir2, options2 = {}) {
  await mkdir(diffDir2, { recursive: true });
  const rawHash = createHash("sha256");
  const tarHash = createHash("sha256");
  let rawSize = 0;
  let tarSize = 0;
  const { compression, stream: tar } = await openDecompressed(stream, (chunk) => {
    rawHash.update(chunk);
    rawSize += chunk.length;
  });
  async function* hashed() {
    for await (const chunk of tar) {
      tarHash.update(chunk);
      tarSize += chunk.length;
      yield chunk;
    }
  }
  const state = {
    tree: new SafeTree(diffDir2),
    owners: options2.preserveOwners ?? process.getuid?.() === 0,
    whiteouts: [],
    xattrs: /* @__PURE__ */ new Map(),
    dirTimes: /* @__PURE__ */ new Map(),
    userns: inUserNamespace(),
    skippedDevices: []
  };
  await readTarEntries(hashed(), (entry, body) => applyEntry(state, entry, body));
  await finish(state);
  return {
    diffId: `sha256:${tarHash.digest("hex")}`,
    size: tarSize,
    digest: `sha256:${rawHash.digest("hex")}`,
    compressedSize: rawSize,
    compression,
    skippedDevices: state.skippedDevices
  };
}
async function applyEntry(state, entry, body) {
  const { tree } = state;
  const rel = cleanEntryPath(entry.path);
  if (rel === "") return;
  tree.ensureParent(rel, entry.path);
  const base = rel.slice(rel.lastIndexOf("/") + 1);
  if (base === OPAQUE_MARKER) {
    addXattr(state, parentOf(rel), overlayOpaqueXattr(), Buffer.from("y"));
    return;
  }
  if (base.startsWith(WHITEOUT_PREFIX)) {
    if (base.startsWith(`${WHITEOUT_PREFIX}${WHITEOUT_PREFIX}`)) return;
    const target = `${parentOf(rel)}${parentOf(rel) === "" ? "" : "/"}${base.slice(WHITEOUT_PREFIX.length)}`;
    tree.prepare(target, false);
    state.whiteouts.push(target);
    return;
  }
  const path = tree.abs(rel);
  const keptDir = tree.prepare(rel, entry.type === "dir");
  switch (entry.type) {
    case "dir":
      if (!keptDir) mkdirSync2(path, { mode: 448 });
      tree.markDir(rel);
      state.dirTimes.set(rel, entry.mtime);
      break;
    case "file":
      await writeFile(state, path, entry, body);
      addXattrs(state, rel, entry);
      return;
    case "symlink":
      symlinkSync(entry.linkpath ?? "", path);
      break;
    case "link":
      linkSync(resolveHardLink(tree, entry), path);
      return;
    // shares the target's inode and metadata
    default:
      if (state.userns && entry.type !== "fifo") {
        state.skippedDevices.push(rel);
        return;
      }
      await makeNode(path, entry.type, entry.mode, entry.devmajor, entry.devminor);
  }
  setMetadata(state, path, entry);
  addXattrs(state, rel, entry);
}
var CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
async function writeFile(state, path, entry, body) {
  const fd = openSync(path, CREATE_FLAGS, 384);
  try {
    for await (const chunk of body) {
      for (let done = 0; done < chunk.length; ) done += writeSync(fd, chunk, done);
    }
    if (state.owners) {
      try {
        fchownSync(fd, entry.uid, entry.gid);
      } catch (err) {
        explainUnmapped(entry, err);
      }
    }
    fchmodSync(fd, entry.mode & 4095);
    futimesSync(fd, entry.mtime, entry.mtime);
  } finally {
    closeSync(fd);
  }
}
function resolveHardLink(tree, entry) {
  const target = cleanEntryPath(entry.linkpath ?? "");
  if (target === "") throw new PathEscapeError(entry.path, "is a hard link to the layer root");
  tree.ensureParent(target, entry.path);
  const stat = lstatSync2(tree.abs(target), { throwIfNoEntry: false });
  if (stat === void 0) {
    throw new PathEscapeError(
      entry.path,
      `is a hard link to "${entry.linkpath}", which is not earlier in this layer`
    );
  }
  if (stat.isDirectory())
    throw new TarFormatError(`tar entry "${entry.path}" is a hard link to a directory`);
  return tree.abs(target);
}
function setMetadata(state, path, entry) {
  if (state.owners) {
    try {
      lchownSync(path, entry.uid, entry.gid);
    } catch (err) {
      explainUnmapped(entry, err);
    }
  }
  if (entry.type !== "symlink") chmodSync(path, entry.mode & 4095);
  if (entry.type !== "dir") lutimesSync(path, entry.mtime, entry.mtime);
}
function addXattrs(state, rel, entry) {
  for (const [name, value] of entry.xattrs ?? []) {
    if (!isOverlayXattr(name)) addXattr(state, rel, name, value);
  }
}
function explainUnmapped(entry, err) {
  if (err.code !== "EINVAL") throw err;
  throw new UnmappedOwnerError(entry.path, entry.uid, entry.gid, { cause: err });
}
function addXattr(state, rel, name, value) {
  let attrs = state.xattrs.get(rel);
  if (!attrs) state.xattrs.set(rel, attrs = /* @__PURE__ */ new Map());
  attrs.set(name, value);
}
async function finish(state) {
  const { tree } = state;
  await makeWhiteouts(
    state.whiteouts.filter((rel) => tree.hasSafeParent(rel)).map((rel) => tree.abs(rel))
  );
  const xattrs = /* @__PURE__ */ new Map();
  for (const [rel, attrs] of state.xattrs) {
    if (rel === "" || tree.hasSafeParent(rel)) xattrs.set(tree.abs(rel), attrs);
  }
  await writeXattrs(xattrs);
  const dirs = [...state.dirTimes].filter(([rel]) => tree.isDir(rel));
  dirs.sort(([a], [b]) => b.split("/").length - a.split("/").length);
  for (const [rel, mtime] of dirs) utimesSync(tree.abs(rel), mtime, mtime);
}

// src/exporter/unpack-worker.ts
var port = parentPort;
var queue = [];
var ended = false;
var aborted;
var wake;
port.on("message", (message) => {
  if ("chunk" in message) queue.push(message.chunk);
  else if ("end" in message) ended = true;
  else aborted = message.abort;
  wake?.();
});
async function* received() {
  for (; ; ) {
    const chunk = queue.shift();
    if (chunk !== void 0) {
      port.postMessage({ taken: 1 });
      yield chunk;
      continue;
    }
    if (aborted !== void 0) throw new Error(aborted);
    if (ended) return;
    await new Promise((resolve) => wake = resolve);
    wake = void 0;
  }
}
var { diffDir, options } = workerData;
try {
  const result = await unpackLayer(received(), diffDir, options);
  port.postMessage({ result });
} catch (error) {
  const e = error;
  port.postMessage({
    error: {
      message: e.message,
      ...typeof e.code === "string" && { code: e.code },
      ...error instanceof TbuildError && error.hint !== void 0 && { hint: error.hint },
      tbuild: error instanceof TbuildError
    }
  });
}
