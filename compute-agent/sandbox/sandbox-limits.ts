/** Resource limits of one sandboxed command. */
export interface SandboxLimits {
  /** CPU seconds (RLIMIT_CPU): SIGXCPU, then SIGKILL. */
  cpuSeconds: number;
  /** Address space in bytes (RLIMIT_AS); Node needs about 1 GiB of it to start. */
  memoryBytes: number;
  /** Processes and threads of the sandbox user (RLIMIT_NPROC). */
  maxProcesses: number;
  /** Largest file the command may write (RLIMIT_FSIZE). */
  maxFileBytes: number;
  /** Wall clock: then the whole process group is killed. */
  wallClockMs: number;
  /** How much of stdout and of stderr is kept (the tail). */
  logBytes: number;
}

export const DEFAULT_LIMITS: SandboxLimits = {
  cpuSeconds: 600,
  memoryBytes: 2 * 1024 ** 3,
  maxProcesses: 256,
  maxFileBytes: 1024 ** 3,
  wallClockMs: 15 * 60_000,
  logBytes: 64 * 1024,
};

/** The unprivileged user the sandbox runs as (nobody). */
export const SANDBOX_UID = 65534;
export const SANDBOX_GID = 65534;
