/**
 * Git repository addresses as Docker recognises them (ADD <git>, a git build context):
 * `git://…`, `git@host:…`, `http(s)://….git`, and GitHub/GitLab/Bitbucket repository
 * pages, each optionally followed by `#<ref>[:<subdirectory>]`.
 */

export function isGitUrl(text: string): boolean {
  return (
    /^git:\/\//i.test(text) ||
    /^git@[^:]+:/.test(text) ||
    /^https?:\/\/[^#]+\.git(#.*)?$/i.test(text) ||
    /^https?:\/\/(github\.com|gitlab\.com|bitbucket\.org)\/[^/]+\/[^/#]+(#.*)?$/i.test(text)
  );
}

export interface GitAddress {
  remote: string;
  ref?: string;
  subdir?: string;
}

/** Split `remote#ref:subdir`; empty parts are left out. */
export function parseGitUrl(text: string): GitAddress {
  const [remote, fragment = ''] = text.split('#', 2) as [string, string?];
  const [ref, subdir] = fragment.split(':', 2);
  return {
    remote,
    ...(ref ? { ref } : {}),
    ...(subdir ? { subdir } : {}),
  };
}
