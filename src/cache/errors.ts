/**
 * Typed errors of the store. Each names the blob, snapshot, image or lock involved and
 * says how to fix the problem; the CLI formats them.
 */
import { TbuildError } from '../shared/errors.ts';
import type { TbuildErrorOptions } from '../shared/errors.ts';

/** Content did not hash (or measure) to what its descriptor promised; nothing was kept. */
export class DigestMismatchError extends TbuildError {
  readonly expected: string;
  readonly actual: string;
  constructor(what: string, expected: string, actual: string, options: TbuildErrorOptions = {}) {
    super('TBUILD_DIGEST_MISMATCH', `${what} mismatch: expected ${expected}, got ${actual}`, {
      hint: 'The content was corrupted or changed in transit; retry, and check the source (registry, cache) if it persists.',
      ...options,
    });
    this.expected = expected;
    this.actual = actual;
  }
}

/** A blob the caller expected in the store is not there. */
export class BlobNotFoundError extends TbuildError {
  readonly digest: string;
  constructor(digest: string, options: TbuildErrorOptions = {}) {
    super('TBUILD_BLOB_NOT_FOUND', `blob ${digest} is not in the store`, {
      hint: 'It may have been pruned; rebuild or pull the image again.',
      ...options,
    });
    this.digest = digest;
  }
}

/** Deleting a blob that an image or a snapshot still references. */
export class BlobInUseError extends TbuildError {
  readonly digest: string;
  constructor(digest: string, options: TbuildErrorOptions = {}) {
    super('TBUILD_BLOB_IN_USE', `blob ${digest} is still referenced`, {
      hint: 'Remove the images that use it (`tbuild rm`), then run `tbuild prune`.',
      ...options,
    });
    this.digest = digest;
  }
}

/** A snapshot id that does not exist (or no longer exists). */
export class SnapshotNotFoundError extends TbuildError {
  readonly id: number;
  constructor(id: number, options: TbuildErrorOptions = {}) {
    super('TBUILD_SNAPSHOT_NOT_FOUND', `snapshot ${id} does not exist`, {
      hint: 'It may have been pruned by another process; run the build again.',
      ...options,
    });
    this.id = id;
  }
}

/** A snapshot in the wrong state for the operation (e.g. committing it twice, or using an uncommitted parent). */
export class SnapshotStateError extends TbuildError {
  readonly id: number;
  constructor(id: number, problem: string, options: TbuildErrorOptions = {}) {
    super('TBUILD_SNAPSHOT_STATE', `snapshot ${id} ${problem}`, {
      hint: 'This is a bug in the caller: commit a snapshot once, and only build on or reference committed snapshots.',
      ...options,
    });
    this.id = id;
  }
}

/** Removing a snapshot that other snapshots, cache records or images still use. */
export class SnapshotInUseError extends TbuildError {
  readonly id: number;
  constructor(id: number, by: string, options: TbuildErrorOptions = {}) {
    super('TBUILD_SNAPSHOT_IN_USE', `snapshot ${id} is still used by ${by}`, {
      hint: 'Run `tbuild prune` to remove unused build data; it removes only what nothing references.',
      ...options,
    });
    this.id = id;
  }
}

/** No image by that name in the local store. */
export class ImageNotFoundError extends TbuildError {
  readonly image: string;
  constructor(image: string, options: TbuildErrorOptions = {}) {
    super('TBUILD_IMAGE_NOT_FOUND', `no such image: ${image}`, {
      hint: 'Run `tbuild images` to list local images.',
      ...options,
    });
    this.image = image;
  }
}

/** The store's database was written by a newer tbuild. */
export class StoreVersionError extends TbuildError {
  constructor(root: string, found: number, supported: number, options: TbuildErrorOptions = {}) {
    super(
      'TBUILD_STORE_VERSION',
      `the store at ${root} has schema version ${found}, newer than this tbuild supports (${supported})`,
      { hint: 'Upgrade tbuild, or use another store with --root.', ...options },
    );
  }
}

/** The store directory cannot be created or opened. */
export class StoreAccessError extends TbuildError {
  constructor(root: string, reason: string, options: TbuildErrorOptions = {}) {
    super('TBUILD_STORE_ACCESS', `cannot open the store at ${root}: ${reason}`, {
      hint: 'Check the permissions of the directory, or choose another with --root or TBUILD_ROOT.',
      ...options,
    });
  }
}

/** A mount under the store that could not be detached, so its directory was left alone. */
export class StaleMountError extends TbuildError {
  readonly mountPoint: string;
  constructor(mountPoint: string, reason: string, options: TbuildErrorOptions = {}) {
    super('TBUILD_STALE_MOUNT', `cannot unmount ${mountPoint}: ${reason}`, {
      hint: `Unmount it by hand (umount -l ${mountPoint}) and run the command again.`,
      ...options,
    });
    this.mountPoint = mountPoint;
  }
}
