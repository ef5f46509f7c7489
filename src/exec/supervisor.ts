/**
 * A RUN container must not outlive tbuild. runc's container is not a child that dies with
 * its parent: after `kill -9` of tbuild (and so of nothing else), `runc run` and its
 * container keep running. So `runc run` is started under a tiny supervisor: a shell that
 * `setpriv --pdeathsig TERM` gives a parent-death signal. When tbuild dies, the kernel
 * sends the shell SIGTERM, and it kills the container (`runc kill … KILL`) until
 * `runc run` is gone; runc then deletes the container's state itself.
 *
 * The supervisor runs in its own session (`detached`), so a Ctrl-C at the terminal reaches
 * tbuild alone, which stops the container gracefully as before. What a dead tbuild leaves
 * (the overlay mounts, the bundle) is removed when the store is next opened.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';

/**
 * $1 tbuild's pid, $2 runc, $3 runc's --root, $4 the container id, then runc's arguments.
 * - The parent check covers a tbuild that died before setpriv set the death signal.
 * - The trap is set before runc starts; a SIGTERM before `pid` is known is remembered.
 * - Stdin is kept through fd 3: a background job's stdin is /dev/null otherwise.
 * - A trapped signal interrupts `wait`, so it waits again until runc is gone.
 */
const SCRIPT = `[ "$PPID" = "$1" ] || exit 137
runc="$2" root="$3" id="$4"; shift 4
pid= term=
stop() { while kill -0 "$pid" 2>/dev/null; do "$runc" --root "$root" kill "$id" KILL 2>/dev/null; sleep 0.1; done; }
trap 'term=1; [ -z "$pid" ] || stop' TERM
exec 3<&0
"$runc" "$@" <&3 3<&- &
pid=$!
exec 3<&-
[ -z "$term" ] || stop
while :; do
  wait "$pid"; code=$?
  kill -0 "$pid" 2>/dev/null || exit "$code"
done`;

export interface SupervisedRunc {
  /** Absolute path of runc. */
  runc: string;
  /** runc's --root. */
  root: string;
  id: string;
  /** runc's arguments (global options, then `run …`). */
  args: readonly string[];
  stdio: StdioOptions;
}

/** Start `runc args…` under the supervisor; the child's exit status is runc's. */
export function spawnSupervisedRunc(options: SupervisedRunc): ChildProcess {
  return spawn(
    'setpriv',
    [
      '--pdeathsig',
      'TERM',
      '--',
      'sh',
      '-c',
      SCRIPT,
      'tbuild-supervisor',
      String(process.pid),
      options.runc,
      options.root,
      options.id,
      ...options.args,
    ],
    { stdio: options.stdio, detached: true },
  );
}
