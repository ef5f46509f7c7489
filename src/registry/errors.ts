/**
 * Typed errors of the registry client. Each names the image or registry involved and
 * says how to fix the problem; the CLI formats them.
 */
import { TbuildError } from '../shared/errors.ts';
import type { TbuildErrorOptions } from '../shared/errors.ts';

/** An image reference that breaks Docker's naming rules. */
export class InvalidReferenceError extends TbuildError {
  readonly reference: string;
  constructor(reference: string, reason: string, options: TbuildErrorOptions = {}) {
    super('TBUILD_INVALID_REFERENCE', `invalid image reference "${reference}": ${reason}`, {
      hint: 'Use [registry/]repository[:tag][@sha256:digest], for example nginx:1.27 or localhost:5000/team/app:1.0.',
      ...options,
    });
    this.reference = reference;
  }
}

/** The registry refused our credentials, or asked for some and we had none (HTTP 401). */
export class RegistryUnauthorizedError extends TbuildError {
  readonly registry: string;
  constructor(registry: string, what: string, options: TbuildErrorOptions = {}) {
    super(
      'TBUILD_REGISTRY_UNAUTHORIZED',
      `${what}: authentication required or refused by ${registry}`,
      {
        hint: `Run \`tbuild login ${registry}\` with valid credentials (or check the credentials in your Docker config).`,
        ...options,
      },
    );
    this.registry = registry;
  }
}

/** Authenticated, but not allowed (HTTP 403), e.g. pushing to someone else's repository. */
export class RegistryDeniedError extends TbuildError {
  readonly registry: string;
  constructor(registry: string, what: string, options: TbuildErrorOptions = {}) {
    super('TBUILD_REGISTRY_DENIED', `${what}: access denied by ${registry}`, {
      hint: `Check that the repository name is right and that your account may access it (\`tbuild login ${registry}\` as another user if needed).`,
      ...options,
    });
    this.registry = registry;
  }
}

/** A tag, manifest, blob or repository that the registry does not have (HTTP 404). */
export class RegistryNotFoundError extends TbuildError {
  readonly image: string;
  constructor(image: string, what: string, options: TbuildErrorOptions = {}) {
    super('TBUILD_REGISTRY_NOT_FOUND', `${what} not found: ${image}`, {
      hint: 'Check the image name and tag (tags are case-sensitive), and that you are logged in if the repository is private.',
      ...options,
    });
    this.image = image;
  }
}

/** Content whose bytes do not hash to the digest that names them. Nothing is kept. */
export class DigestMismatchError extends TbuildError {
  readonly expected: string;
  readonly actual: string;
  constructor(what: string, expected: string, actual: string, options: TbuildErrorOptions = {}) {
    super('TBUILD_DIGEST_MISMATCH', `${what}: expected ${expected}, got ${actual}`, {
      hint: 'The registry or a proxy in between sent corrupted data; retry, and report it to the registry operator if it persists.',
      ...options,
    });
    this.expected = expected;
    this.actual = actual;
  }
}

/** An index with no manifest for the wanted platform. */
export class PlatformNotFoundError extends TbuildError {
  constructor(
    image: string,
    wanted: string,
    available: string[],
    options: TbuildErrorOptions = {},
  ) {
    super(
      'TBUILD_PLATFORM_NOT_FOUND',
      `no manifest for platform ${wanted} in ${image} (available: ${available.join(', ') || 'none'})`,
      {
        hint: 'Pick one of the available platforms with --platform, or use an image built for yours.',
        ...options,
      },
    );
  }
}

/** Any other failed exchange with a registry (5xx after retries, unexpected status, network). */
export class RegistryRequestError extends TbuildError {
  readonly status: number | undefined;
  constructor(message: string, status?: number, options: TbuildErrorOptions = {}) {
    super('TBUILD_REGISTRY_REQUEST', message, {
      hint: 'Check that the registry is reachable and healthy; tbuild already retried transient failures.',
      ...options,
    });
    this.status = status;
  }
}

/** A plain-HTTP registry that is not loopback and not declared insecure, or a bad response shape. */
export class RegistryProtocolError extends TbuildError {
  constructor(message: string, options: TbuildErrorOptions = {}) {
    super('TBUILD_REGISTRY_PROTOCOL', message, options);
  }
}

/** A docker-credential-* helper that failed or is missing, or an unreadable Docker config. */
export class CredentialsError extends TbuildError {
  constructor(message: string, options: TbuildErrorOptions = {}) {
    super('TBUILD_CREDENTIALS', message, options);
  }
}

/** A registry that answers too slowly: no headers in time, or a body below the speed floor. */
export class RegistryTimeoutError extends TbuildError {
  constructor(message: string, options: TbuildErrorOptions = {}) {
    super('TBUILD_REGISTRY_TIMEOUT', message, {
      hint: 'The registry or the network to it is overloaded; tbuild already retried. Try again later, or use a mirror.',
      ...options,
    });
  }
}

/** A response larger than tbuild reads for its kind (a manifest over 4 MiB, …). */
export class RegistryResponseTooLargeError extends TbuildError {
  readonly limit: number;
  constructor(
    what: string,
    registry: string,
    limit: number,
    announced?: number,
    options: TbuildErrorOptions = {},
  ) {
    super(
      'TBUILD_REGISTRY_RESPONSE_TOO_LARGE',
      `${what} from ${registry} is ${announced === undefined ? 'larger than' : `${announced} bytes, over`} tbuild's limit of ${limit} bytes`,
      {
        hint: 'A registry should never send this much; check the registry address, or report it to its operator.',
        ...options,
      },
    );
    this.limit = limit;
  }
}
