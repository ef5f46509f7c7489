/**
 * Picking one manifest from an image index for a platform. Variants are normalised the
 * way containerd does, so `linux/arm64` and `linux/arm64/v8` are the same platform and
 * `linux/arm` means `linux/arm/v7`.
 */
import type { Descriptor, Index } from '../shared/oci.ts';
import { formatPlatform } from '../shared/platform.ts';
import type { Platform } from '../shared/platform.ts';

/** The canonical form used for comparison. */
export function normalizePlatform(p: Platform): Platform {
  const os = p.os.toLowerCase();
  let architecture = p.architecture.toLowerCase();
  let variant = p.variant?.toLowerCase();
  if (architecture === 'aarch64') architecture = 'arm64';
  if (architecture === 'x86_64' || architecture === 'x86-64') architecture = 'amd64';
  if (architecture === 'arm64' && (variant === 'v8' || variant === '8')) variant = undefined;
  if (architecture === 'amd64' && variant === 'v1') variant = undefined;
  if (architecture === 'arm' && (variant === undefined || variant === '')) variant = 'v7';
  if (architecture === 'arm' && /^\d$/.test(variant ?? '')) variant = `v${variant}`;
  return variant ? { os, architecture, variant } : { os, architecture };
}

/** Whether a descriptor's platform is exactly the wanted one (after normalisation). */
export function matchesPlatform(candidate: Platform, wanted: Platform): boolean {
  const a = normalizePlatform(candidate);
  const b = normalizePlatform(wanted);
  return (
    a.os === b.os && a.architecture === b.architecture && (a.variant ?? '') === (b.variant ?? '')
  );
}

/**
 * The first manifest in `index` for `wanted`, or undefined. Attestation entries
 * (`unknown/unknown`) never match.
 */
export function selectPlatformManifest(index: Index, wanted: Platform): Descriptor | undefined {
  return index.manifests.find(
    (m) => m.platform !== undefined && matchesPlatform(m.platform, wanted),
  );
}

/** `linux/amd64, linux/arm64` — what an index offers, for error messages. */
export function listPlatforms(index: Index): string[] {
  return index.manifests
    .filter((m) => m.platform && m.platform.os !== 'unknown')
    .map((m) => formatPlatform(m.platform!));
}
