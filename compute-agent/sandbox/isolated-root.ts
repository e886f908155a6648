/**
 * bubblewrap's isolation, shared by every sandboxed command and by the start-up probe (which must
 * test the very root the commands get): new network, PID, IPC and UTS namespaces, and a root
 * holding only /usr (read-only), /proc of its own, a minimal /dev and a private /tmp.
 */
export const ISOLATED_ROOT: readonly string[] = [
  '--unshare-net',
  '--unshare-pid',
  '--unshare-ipc',
  '--unshare-uts',
  '--unshare-cgroup-try',
  '--die-with-parent',
  '--new-session',
  '--ro-bind',
  '/usr',
  '/usr',
  '--symlink',
  'usr/lib',
  '/lib',
  '--symlink',
  'usr/lib64',
  '/lib64',
  '--symlink',
  'usr/bin',
  '/bin',
  '--symlink',
  'usr/sbin',
  '/sbin',
  '--proc',
  '/proc',
  '--dev',
  '/dev',
  '--tmpfs',
  '/tmp',
];
