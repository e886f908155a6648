"""The agent's process spawner: `python3 -I -S spawner.py`.

Node's spawn() forks the whole agent, and that fork blocks the agent's event loop for a time that
grows with its memory (5 ms at 46 MB, 18 ms at 151 MB, 32 ms at 466 MB measured); this small
process starts the sandboxed commands instead (Python's subprocess uses vfork: ~0.6 ms).

Requests, one JSON line each on stdin: {"id", "argv", "cwd", "env", "tail_bytes"}. Answers, one
JSON line each on stdout: {"id", "pid"} once started (or {"id", "error"} if it could not be), then
{"id", "exit_code", "signal", "stdout", "stderr", "stdout_dropped", "stderr_dropped"} once it has
exited and its output ended: the last `tail_bytes` of each stream (base64) and how many earlier
bytes were dropped. Each command is the leader of a new session (the agent kills its group by its
pid). At EOF on stdin (the agent is gone) every command's group is killed and the spawner exits;
it also dies with the agent (PR_SET_PDEATHSIG), and the sandboxes with it (bubblewrap's
--die-with-parent).
"""

import base64
import ctypes
import json
import os
import signal
import subprocess
import sys
import threading

PR_SET_PDEATHSIG = 1
CHUNK = 65536


def die_with_parent(parent):
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass  # not Linux: EOF on stdin still ends it
    if os.getppid() != parent:
        os._exit(0)  # the agent died before the prctl


class Tail:
    """The last `limit` bytes of a stream, and how many came before them."""

    def __init__(self, limit):
        self.limit = limit
        self.data = bytearray()
        self.dropped = 0

    def push(self, chunk):
        self.data += chunk
        excess = len(self.data) - self.limit
        if excess > 0:
            del self.data[:excess]
            self.dropped += excess


def drain(stream, tail):
    with stream:
        while True:
            chunk = stream.read1(CHUNK) if hasattr(stream, "read1") else stream.read(CHUNK)
            if not chunk:
                return
            tail.push(chunk)


class Spawner:
    def __init__(self, answers):
        self.answers = answers
        self.lock = threading.Lock()
        self.running = {}

    def answer(self, message):
        line = json.dumps(message) + "\n"
        with self.lock:
            self.answers.write(line)
            self.answers.flush()

    def start(self, request):
        rid = request.get("id")
        try:
            child = subprocess.Popen(
                request["argv"], cwd=request.get("cwd") or "/", env=request.get("env") or {},
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                start_new_session=True, close_fds=True,
            )
        except (OSError, KeyError, TypeError, ValueError) as err:
            self.answer({"id": rid, "error": str(err)})
            return
        with self.lock:
            self.running[child.pid] = child
        self.answer({"id": rid, "pid": child.pid})
        threading.Thread(target=self.watch, args=(rid, child, int(request.get("tail_bytes") or CHUNK)), daemon=True).start()

    def watch(self, rid, child, limit):
        out, err = Tail(limit), Tail(limit)
        readers = [threading.Thread(target=drain, args=(child.stdout, out), daemon=True),
                   threading.Thread(target=drain, args=(child.stderr, err), daemon=True)]
        for r in readers:
            r.start()
        code = child.wait()
        for r in readers:
            r.join()
        with self.lock:
            self.running.pop(child.pid, None)
        self.answer({
            "id": rid,
            "exit_code": code if code >= 0 else None,
            "signal": signal.Signals(-code).name if code < 0 else None,
            "stdout": base64.b64encode(bytes(out.data)).decode("ascii"), "stdout_dropped": out.dropped,
            "stderr": base64.b64encode(bytes(err.data)).decode("ascii"), "stderr_dropped": err.dropped,
        })

    def kill_all(self):
        with self.lock:
            pids = list(self.running)
        for pid in pids:
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass


def main():
    die_with_parent(int(sys.argv[1]) if len(sys.argv) > 1 else os.getppid())
    spawner = Spawner(sys.stdout)
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
        except ValueError:
            continue
        if isinstance(request, dict):
            spawner.start(request)
    spawner.kill_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
