/**
 * What QEMU user emulation needs from binfmt_misc: the handler line for an architecture
 * (magic and mask from Debian's qemu-user-static, `/usr/lib/binfmt.d/qemu-NAME.conf`, with
 * its static interpreter and the F flag, so the kernel opens the interpreter when it is
 * registered and containers need no copy of it), and a tiny program for the architecture
 * that only exits 0, to probe whether emulation works (as BuildKit probes).
 */
import { readFile } from 'node:fs/promises';
import type { Platform } from '../shared/platform.ts';

/** How one architecture is emulated and probed. */
interface QemuTarget {
  /** QEMU's name: `qemu-NAME-static`, `qemu-NAME.conf`. */
  qemu: string;
  machine: number;
  bits: 32 | 64;
  bigEndian?: boolean;
  flags?: number;
  /** Instructions of `exit(0)`. */
  code: number[];
}

const TARGETS: Record<string, QemuTarget> = {
  amd64: {
    qemu: 'x86_64',
    machine: 62,
    bits: 64,
    code: [0xb8, 60, 0, 0, 0, 0x31, 0xff, 0x0f, 0x05],
  },
  '386': { qemu: 'i386', machine: 3, bits: 32, code: [0xb8, 1, 0, 0, 0, 0x31, 0xdb, 0xcd, 0x80] },
  arm64: {
    qemu: 'aarch64',
    machine: 183,
    bits: 64,
    code: [0xa8, 0x0b, 0x80, 0xd2, 0x00, 0x00, 0x80, 0xd2, 0x01, 0x00, 0x00, 0xd4],
  },
  arm: {
    qemu: 'arm',
    machine: 40,
    bits: 32,
    flags: 0x05000000,
    code: [0x01, 0x70, 0xa0, 0xe3, 0x00, 0x00, 0xa0, 0xe3, 0x00, 0x00, 0x00, 0xef],
  },
  riscv64: {
    qemu: 'riscv64',
    machine: 243,
    bits: 64,
    code: [0x93, 0x08, 0xd0, 0x05, 0x13, 0x05, 0x00, 0x00, 0x73, 0x00, 0x00, 0x00],
  },
  ppc64le: {
    qemu: 'ppc64le',
    machine: 21,
    bits: 64,
    flags: 2,
    code: [0x01, 0x00, 0x00, 0x38, 0x00, 0x00, 0x60, 0x38, 0x02, 0x00, 0x00, 0x44],
  },
  s390x: {
    qemu: 's390x',
    machine: 22,
    bits: 64,
    bigEndian: true,
    code: [0xa7, 0x29, 0x00, 0x00, 0x0a, 0x01],
  },
};

/** Architectures tbuild can emulate (and probe), by OCI name. */
export const EMULATED_ARCHITECTURES: readonly string[] = Object.keys(TARGETS);

/** QEMU's name for an OCI architecture (`arm64` → `aarch64`), if tbuild knows it. */
export function qemuName(platform: Platform): string | undefined {
  return TARGETS[platform.architecture]?.qemu;
}

/** Where Debian's qemu-user-static puts the interpreter. */
export function qemuInterpreter(platform: Platform): string | undefined {
  const name = qemuName(platform);
  return name === undefined ? undefined : `/usr/bin/qemu-${name}-static`;
}

/**
 * The `register` line for `platform`: Debian's magic and mask, the static interpreter,
 * flags PCF: P keeps argv[0] (QEMU ≥ 6 reads it from AT_FLAGS; busybox's shell runs `cat` by
 * re-executing itself as `cat`, which without P becomes `sh`), C takes the binary's
 * credentials, F is fix-binary. Undefined when the package's binfmt.d
 * file is not there.
 */
export async function registrationLine(platform: Platform): Promise<string | undefined> {
  const name = qemuName(platform);
  if (name === undefined) return undefined;
  const conf = await readFile(`/usr/lib/binfmt.d/qemu-${name}.conf`, 'utf8').catch(
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    },
  );
  // Debian leaves out the x86 files on x86 hosts (the kernel may run those natively).
  const fields = (conf ?? X86_FALLBACK[name] ?? '').trim().split(':');
  if (fields.length < 8 || fields[2] !== 'M') return undefined;
  return `:tbuild-qemu-${name}:M:${fields[3]}:${fields[4]}:${fields[5]}:/usr/bin/qemu-${name}-static:PCF`;
}

/** qemu-binfmt-conf.sh's x86 lines, in binfmt.d form (the interpreter is replaced). */
const X86_FALLBACK: Record<string, string> = {
  i386: ':qemu-i386:M::\\x7fELF\\x01\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x02\\x00\\x03\\x00:\\xff\\xff\\xff\\xff\\xff\\xfe\\xfe\\x00\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff\\xff:/usr/bin/qemu-i386-static:F',
  x86_64:
    ':qemu-x86_64:M::\\x7fELF\\x02\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x02\\x00\\x3e\\x00:\\xff\\xff\\xff\\xff\\xff\\xfe\\xfe\\x00\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff\\xff:/usr/bin/qemu-x86_64-static:F',
};

/** A static ELF program for `platform` that exits 0 at once, or undefined for an unknown arch. */
export function probeProgram(platform: Platform): Buffer | undefined {
  const target = TARGETS[platform.architecture];
  return target && tinyElf(target);
}

function tinyElf(t: QemuTarget): Buffer {
  const base = 0x400000;
  const ehsize = t.bits === 64 ? 64 : 52;
  const phsize = t.bits === 64 ? 56 : 32;
  const size = ehsize + phsize + t.code.length;
  const b = Buffer.alloc(size);
  const le = !t.bigEndian;
  const u16 = (v: number, at: number) => (le ? b.writeUInt16LE(v, at) : b.writeUInt16BE(v, at));
  const u32 = (v: number, at: number) => (le ? b.writeUInt32LE(v, at) : b.writeUInt32BE(v, at));
  const u64 = (v: number, at: number) =>
    le ? b.writeBigUInt64LE(BigInt(v), at) : b.writeBigUInt64BE(BigInt(v), at);
  const word = t.bits === 64 ? u64 : u32;
  const w = t.bits === 64 ? 8 : 4;
  b.set([0x7f, 0x45, 0x4c, 0x46, t.bits === 64 ? 2 : 1, le ? 1 : 2, 1], 0);
  u16(2, 16); // ET_EXEC
  u16(t.machine, 18);
  u32(1, 20);
  word(base + ehsize + phsize, 24); // entry
  word(ehsize, 24 + w); // program headers right after this header
  word(0, 24 + 2 * w); // no section headers
  let at = 24 + 3 * w;
  u32(t.flags ?? 0, at);
  u16(ehsize, at + 4);
  u16(phsize, at + 6);
  u16(1, at + 8);
  at = ehsize;
  // One PT_LOAD segment, read + execute, mapping the whole file.
  u32(1, at);
  if (t.bits === 64) {
    u32(5, at + 4);
    u64(0, at + 8);
    u64(base, at + 16);
    u64(base, at + 24);
    u64(size, at + 32);
    u64(size, at + 40);
    u64(0x1000, at + 48);
  } else {
    u32(0, at + 4);
    u32(base, at + 8);
    u32(base, at + 12);
    u32(size, at + 16);
    u32(size, at + 20);
    u32(5, at + 24);
    u32(0x1000, at + 28);
  }
  b.set(t.code, ehsize + phsize);
  return b;
}
