/**
 * Whether a FROM value is a reference BuildKit could pull (distribution/reference's
 * ParseNormalizedNamed grammar): InvalidDefaultArgInFrom warns when default ARG values
 * would make one that is not.
 */
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[0-9a-fA-F:.]+\\])(?::[0-9]+)?`;
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9A-Fa-f]{32,}';
const REFERENCE = new RegExp(
  `^(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*(?::${TAG})?(?:@${DIGEST})?$`,
);

/** True when `text` parses as an image reference (docker.io is implied for short names). */
export function isValidImageReference(text: string): boolean {
  const name = text.split(/[:@]/, 1)[0]!;
  return name.length <= 255 && REFERENCE.test(text);
}
