/**
 * COPY/ADD --chown and WORKDIR ownership: names resolve against the destination
 * filesystem's /etc/passwd and /etc/group, as BuildKit does. A user given by name takes
 * its primary group; a numeric uid alone is also used as the gid.
 */
import type { ChownOpt } from '../../llb/types.ts';
import { FileOpError } from './errors.ts';
import { readGroups, readPasswd } from '../../exec/user.ts';

export interface Owner {
  uid: number;
  gid: number;
}

/** Resolve a chown option against the filesystem at `root`. */
export async function resolveOwner(
  root: string,
  chown: ChownOpt | undefined,
): Promise<Owner | undefined> {
  if (!chown || (!chown.user && !chown.group)) return undefined;
  let uid = 0;
  let gid = 0;
  if (chown.user) {
    if ('id' in chown.user) {
      uid = gid = chown.user.id;
    } else {
      const name = chown.user.name;
      const user = (await readPasswd(root)).find((u) => u.name === name);
      if (!user) {
        throw new FileOpError(
          'TBUILD_UNKNOWN_USER',
          `unable to find user ${name}: no matching entries in passwd file`,
          {
            hint: 'Create the user in an earlier RUN step (useradd/adduser), or use a numeric uid.',
          },
        );
      }
      uid = user.uid;
      gid = user.gid;
    }
  }
  if (chown.group) {
    if ('id' in chown.group) gid = chown.group.id;
    else {
      const name = chown.group.name;
      const group = (await readGroups(root)).find((g) => g.name === name);
      if (!group) {
        throw new FileOpError(
          'TBUILD_UNKNOWN_GROUP',
          `unable to find group ${name}: no matching entries in group file`,
          {
            hint: 'Create the group in an earlier RUN step (groupadd/addgroup), or use a numeric gid.',
          },
        );
      }
      gid = group.gid;
    }
  }
  return { uid, gid };
}
