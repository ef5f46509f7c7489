import { UsageError } from './errors.ts';

/** An OCI platform. */
export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

const NODE_TO_OCI_ARCH: Record<string, string> = {
  x64: 'amd64',
  arm64: 'arm64',
  arm: 'arm',
  ia32: '386',
  ppc64: 'ppc64le',
  s390x: 's390x',
  riscv64: 'riscv64',
};

/** The platform tbuild runs on (the build platform). */
export function hostPlatform(): Platform {
  const architecture = NODE_TO_OCI_ARCH[process.arch] ?? process.arch;
  return architecture === 'arm'
    ? { os: 'linux', architecture, variant: 'v7' }
    : { os: 'linux', architecture };
}

const HINT = 'Use os/arch[/variant], for example linux/amd64, linux/arm64 or linux/arm/v7.';

/** Operating systems Go knows (containerd's list): `linux` alone means linux on this arch. */
const KNOWN_OS = new Set(
  'aix android darwin dragonfly freebsd hurd illumos ios js linux nacl netbsd openbsd plan9 solaris windows zos'.split(
    ' ',
  ),
);
const KNOWN_ARCH = new Set(
  '386 amd64 amd64p32 arm armbe arm64 arm64be ppc64 ppc64le loong64 mips mipsle mips64 mips64le mips64p32 mips64p32le ppc riscv riscv64 s390 s390x sparc sparc64 wasm'.split(
    ' ',
  ),
);
const OS_COMPONENT = /^([A-Za-z0-9_-]+)(?:\(([A-Za-z0-9_.%-]*)((?:\+[A-Za-z0-9_.%-]+)*)\))?$/;
const COMPONENT = /^[A-Za-z0-9_.-]+$/;

/**
 * Parse a platform the way docker does (containerd's `platforms.Parse`, then `Normalize`):
 * `linux/amd64`, `linux/arm/v7`; aliases such as `x86_64`, `aarch64`, `armhf` and `i386`;
 * `linux` alone (this machine's architecture) or an architecture alone (on linux). As in
 * the image config docker writes, arm64's default variant v8 is dropped and arm gets v7.
 * Throws UsageError for what docker refuses.
 */
export function parsePlatform(text: string): Platform {
  const fail = (reason: string): never => {
    throw new UsageError(`invalid platform "${text}": ${reason}`, { hint: HINT });
  };
  if (text === '') return fail('it is empty');
  if (text.includes('*')) return fail('wildcards are not supported');
  const parts = text.split('/');
  if (parts.length > 3) return fail('cannot parse platform specifier');
  const osMatch = OS_COMPONENT.exec(parts[0]!);
  if (!osMatch) return fail(`"${parts[0]}" is an invalid OS component`);
  for (const part of parts.slice(1))
    if (!COMPONENT.test(part)) fail(`"${part}" is an invalid component`);
  const os = normalizeOs(osMatch[1]!);
  if (parts.length === 1) {
    if (KNOWN_OS.has(os)) return { ...hostPlatform(), os };
    const arch = normalizeArch(parts[0]!, '');
    if (!KNOWN_ARCH.has(arch.architecture)) return fail('unknown operating system or architecture');
    return withVariant({ os: 'linux', ...arch });
  }
  return withVariant({ os, ...normalizeArch(parts[1]!, parts[2] ?? '') });
}

/**
 * `--platform` of a build: one platform or a comma-separated list (buildx's form), each
 * parsed as containerd does and checked to be something tbuild can build: Linux, an
 * architecture Go knows, each platform once. Throws UsageError (exit 125) otherwise.
 */
export function parseTargetPlatforms(text: string): Platform[] {
  const entries = text.split(',').map((entry) => entry.trim());
  const seen = new Map<string, string>();
  return entries.map((entry, i) => {
    if (entry === '') {
      const where = entries.length === 1 ? '' : ` (entry ${i + 1} of ${entries.length})`;
      throw new UsageError(`invalid platform list "${text}": an empty platform${where}`, {
        hint: `${HINT} Separate several with commas, without a trailing one: linux/amd64,linux/arm64.`,
      });
    }
    const platform = parseTargetPlatform(entry);
    const key = formatPlatform(platform);
    const earlier = seen.get(key);
    if (earlier !== undefined) {
      throw new UsageError(
        `invalid platform list "${text}": "${earlier}" and "${entry}" are both ${key}`,
        { hint: `Name each platform once, as os/arch: ${HINT}` },
      );
    }
    seen.set(key, entry);
    return platform;
  });
}

/** One target platform: Linux, on an architecture Go (and so containerd) knows. */
export function parseTargetPlatform(text: string): Platform {
  if (text.includes(',')) {
    throw new UsageError(`invalid platform "${text}": one platform, not a list`, { hint: HINT });
  }
  const platform = parsePlatform(text);
  // Docker refuses these too ("operating system is not supported"), only later.
  if (platform.os !== 'linux')
    throw new UsageError(`invalid platform "${text}": tbuild builds Linux images only`, {
      hint: HINT,
    });
  if (!KNOWN_ARCH.has(platform.architecture)) {
    throw new UsageError(
      `invalid platform "${text}": unknown architecture "${platform.architecture}"`,
      { hint: `${HINT} Known architectures: ${[...KNOWN_ARCH].join(', ')}.` },
    );
  }
  return platform;
}

function normalizeOs(os: string): string {
  const lower = os.toLowerCase();
  return lower === 'macos' ? 'darwin' : lower;
}

/** containerd's normalizeArch: aliases to Go's names, default variants made explicit. */
function normalizeArch(
  archText: string,
  variantText: string,
): { architecture: string; variant: string } {
  const arch = archText.toLowerCase();
  const variant = variantText.toLowerCase();
  switch (arch) {
    case 'i386':
      return { architecture: '386', variant: '' };
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      return { architecture: 'amd64', variant: variant === 'v1' ? '' : variant };
    case 'aarch64':
    case 'arm64': {
      if (['8', 'v8', 'v8.0'].includes(variant)) return { architecture: 'arm64', variant: '' };
      if (['9', '9.0', 'v9.0'].includes(variant)) return { architecture: 'arm64', variant: 'v9' };
      return { architecture: 'arm64', variant };
    }
    case 'armhf':
      return { architecture: 'arm', variant: 'v7' };
    case 'armel':
      return { architecture: 'arm', variant: 'v6' };
    case 'arm':
      if (variant === '' || variant === '7') return { architecture: 'arm', variant: 'v7' };
      if (['5', '6', '8'].includes(variant)) return { architecture: 'arm', variant: `v${variant}` };
      return { architecture: 'arm', variant };
    default:
      return { architecture: arch, variant };
  }
}

function withVariant(p: { os: string; architecture: string; variant: string }): Platform {
  return p.variant ? p : { os: p.os, architecture: p.architecture };
}

export function formatPlatform(p: Platform): string {
  return p.variant ? `${p.os}/${p.architecture}/${p.variant}` : `${p.os}/${p.architecture}`;
}
