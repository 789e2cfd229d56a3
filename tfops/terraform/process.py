"""Run external tools with live output, a timeout, and signals passed on.

Children run in their own process group, so a Ctrl-C in the terminal reaches tfops
only; tfops forwards exactly one SIGINT per signal it receives to every running child.
Terraform treats the first SIGINT as "stop gracefully and release the state lock" and a
second as "stop now", so a user pressing Ctrl-C twice gets Terraform's own behaviour.
SIGTERM (CI cancelling a job) is forwarded as SIGINT too.

A child must outlive a tfops that dies (`kill -9`, an OOM kill, a runner losing its
agent): killed mid-apply, terraform would leave what it created outside its state.
- Its output goes to files, not pipes: with a pipe, the first line terraform printed
  after tfops was gone would kill it with SIGPIPE. tfops follows the files as they grow
  (`tail -f`, every FOLLOW_SECONDS while nothing is new) and streams their lines; the
  files are unlinked at once, so nothing is left on disk.
- On Linux terraform is told to stop gracefully when tfops goes (`stop_with_tfops`): a
  parent-death signal (SIGINT, as Ctrl-C), set by `setpriv --pdeathsig` before the exec.
  The signal fires when the *thread* that started the child ends, so one long-lived
  thread starts every child (roots run in pool threads that end with their pool). A
  `preexec_fn` calling prctl would do too, but it makes Python fork instead of vfork —
  ~35 ms per child for a tfops holding a big plan — so it is only the fallback where
  there is no setpriv.
- The running children are listed in `tfops.children.CHILDREN`, which the environment
  locks record: a lock whose tfops died is not taken over while its terraform still runs.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import FrameType
from typing import Any, Protocol

from tfops.caches import default_cache_dir, file_key, read_entry, write_entry
from tfops.children import CHILDREN
from tfops.errors import Interrupted, TfopsError

KILL_GRACE_SECONDS = 120.0


class Sink(Protocol):
    def line(self, text: str, *, stderr: bool = False) -> None: ...
    def heartbeat(self, what: str, elapsed: float) -> None: ...
    def heartbeat_interval(self) -> float: ...


class NullSink:
    def line(self, text: str, *, stderr: bool = False) -> None:
        pass

    def heartbeat(self, what: str, elapsed: float) -> None:
        pass

    def heartbeat_interval(self) -> float:
        return 3600.0


@dataclass(frozen=True)
class Result:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


class _Forwarder:
    """Process-wide registry of running children and the signal state."""

    def __init__(self) -> None:
        self.children: set[subprocess.Popen[bytes]] = set()
        self.lock = threading.Lock()
        self.signalled: int | None = None
        self.installed = False

    def handle(self, signum: int, frame: FrameType | None) -> None:
        self.signalled = signum
        with self.lock:
            children = list(self.children)
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signal.SIGINT)
        if not children:
            raise Interrupted(f"interrupted by {signal.Signals(signum).name}")


FORWARDER = _Forwarder()


@contextmanager
def forward_signals() -> Iterator[None]:
    """Install the SIGINT/SIGTERM handlers for the duration of a command (main thread only)."""
    if threading.current_thread() is not threading.main_thread() or FORWARDER.installed:
        yield
        return
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, FORWARDER.handle)
    FORWARDER.installed = True
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        FORWARDER.installed = False
        FORWARDER.signalled = None


def check_interrupted() -> None:
    if FORWARDER.signalled is not None:
        raise Interrupted(f"interrupted by {signal.Signals(FORWARDER.signalled).name}")


def run(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    sink: Sink | None = None,
    timeout: float | None = None,
    what: str = "",
    stdin_text: str | None = None,
    stop_with_tfops: bool = False,
    on_start: Callable[[], None] | None = None,
) -> Result:
    """Run a command, streaming its lines to `sink`, and return everything it printed.

    `stop_with_tfops`: the child is sent SIGINT if tfops dies (terraform, which must stop
    gracefully rather than run on unwatched). It costs an exec of `setpriv` (~2 ms), so
    quick tools (git) go without: they finish and exit on their own anyway.
    `on_start`: called once the child runs (work that can overlap with it starts then).
    """
    check_interrupted()
    sink = sink or NullSink()
    environment = dict(env) if env is not None else None
    executable = _executable(argv[0], environment)
    started = time.monotonic()
    timed_out_at: float | None = None
    with _OutputFile() as out, _OutputFile() as err:
        child = _spawn(
            [executable, *argv[1:]],
            stop_with_tfops=stop_with_tfops,
            cwd=cwd,
            env=environment,
            stdin=subprocess.PIPE if stdin_text is not None else subprocess.DEVNULL,
            stdout=out.writer,
            stderr=err.writer,
        )
        out.close_writer()  # the child has its own copy
        err.close_writer()
        with FORWARDER.lock:
            FORWARDER.children.add(child)
        CHILDREN.add(child.pid, Path(argv[0]).name)
        exit_watch = _ExitWatch(child)
        try:
            if on_start is not None:
                on_start()
            if stdin_text is not None and child.stdin is not None:
                child.stdin.write(stdin_text.encode())
                child.stdin.close()
            next_beat = started + sink.heartbeat_interval()
            while True:
                exited = child.poll() is not None
                got = out.follow(sink, stderr=False) | err.follow(sink, stderr=True)
                if exited:
                    break
                now = time.monotonic()
                if now >= next_beat:
                    sink.heartbeat(what or Path(argv[0]).name, now - started)
                    next_beat = now + sink.heartbeat_interval()
                if timeout and timed_out_at is None and now - started > timeout:
                    timed_out_at = now
                    child.send_signal(signal.SIGINT)
                elif timed_out_at and now - timed_out_at > KILL_GRACE_SECONDS:
                    child.kill()
                if not got:  # sleep until the child exits, or a little
                    exit_watch.wait(FOLLOW_SECONDS)
            out.finish(sink, stderr=False)
            err.finish(sink, stderr=True)
        finally:
            with FORWARDER.lock:
                FORWARDER.children.discard(child)
            if child.poll() is None:  # we are unwinding from an exception: don't orphan it
                child.send_signal(signal.SIGINT)
                try:
                    child.wait(timeout=KILL_GRACE_SECONDS)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()
            CHILDREN.remove(child.pid)
            exit_watch.close()
    result = Result(
        tuple(argv), child.returncode, out.text(), err.text(), time.monotonic() - started
    )
    check_interrupted()
    if timed_out_at is not None:
        raise TfopsError(
            f"{what or argv[0]} timed out after {timeout:.0f}s and was interrupted",
            hint="raise terraform.timeout_minutes in tfops.yaml if this step is legitimately slow",
        )
    return result


FOLLOW_SECONDS = 0.05  # how often the output files are looked at while nothing is new
READ_CHUNK = 1 << 20


class _ExitWatch:
    """Waits up to a timeout for a child to exit, waking the moment it does (a pidfd on
    Linux; elsewhere Popen.wait's own short sleeps). A quick `git` call then costs no
    follow interval."""

    def __init__(self, child: subprocess.Popen[bytes]):
        self.child = child
        self.fd: int | None = None
        with contextlib.suppress(AttributeError, OSError):
            self.fd = os.pidfd_open(child.pid)

    def wait(self, timeout: float) -> None:
        if self.fd is not None:
            select.select([self.fd], [], [], timeout)
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.child.wait(timeout=timeout)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class _OutputFile:
    """One output stream of a child: an unlinked temporary file it writes and tfops follows.

    The child's descriptor and tfops's are opened separately, so each has its own offset.
    Lines are split on bytes (a newline is never part of a UTF-8 sequence), then decoded.
    """

    def __init__(self) -> None:
        fd, path = tempfile.mkstemp(prefix="tfops-output-")
        try:
            self.reader = os.open(path, os.O_RDONLY)
        except OSError:
            os.close(fd)
            raise
        finally:
            os.unlink(path)
        self.writer: int | None = fd
        self.partial = b""
        self.lines: list[str] = []

    def __enter__(self) -> _OutputFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close_writer()
        os.close(self.reader)

    def close_writer(self) -> None:
        if self.writer is not None:
            os.close(self.writer)
            self.writer = None

    def follow(self, sink: Sink, *, stderr: bool) -> bool:
        """Hand the complete lines written since the last look to `sink`; True if any."""
        got = False
        while chunk := os.read(self.reader, READ_CHUNK):
            got = True
            *complete, self.partial = (self.partial + chunk).split(b"\n")
            for raw in complete:
                text = raw.decode("utf-8", errors="replace") + "\n"
                self.lines.append(text)
                sink.line(text, stderr=stderr)
        return got

    def finish(self, sink: Sink, *, stderr: bool) -> None:
        """Once the child has exited: the rest, with a last line that has no newline."""
        self.follow(sink, stderr=stderr)
        if self.partial:
            text = self.partial.decode("utf-8", errors="replace")
            self.partial = b""
            self.lines.append(text)
            sink.line(text, stderr=stderr)

    def text(self) -> str:
        return "".join(self.lines)


def _executable(name: str, env: Mapping[str, str] | None) -> str:
    """`name` found as exec would find it, so a missing tool is a clear error (the child
    may be `setpriv`, whose own "failed to execute" would hide which tool is missing)."""
    search = (env if env is not None else os.environ).get("PATH", os.defpath)
    found = shutil.which(name, path=search)
    if found is not None:
        return found
    if os.sep in name and os.path.exists(name):
        raise TfopsError(f"{name} is not executable")
    raise TfopsError(f"{name} not found", hint=f"install {Path(name).name}")


_SPAWNER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tfops-spawner")


def _spawn(argv: list[str], *, stop_with_tfops: bool, **options: Any) -> subprocess.Popen[bytes]:
    """Start a child from the one spawner thread, with the parent-death signal if asked."""
    wrapper, preexec = _parent_death_signal() if stop_with_tfops else ((), None)

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [*wrapper, *argv], start_new_session=True, preexec_fn=preexec, **options
        )

    return _SPAWNER.submit(start).result()


PR_SET_PDEATHSIG = 1


@cache
def _parent_death_signal() -> tuple[tuple[str, ...], Callable[[], None] | None]:
    """How children get SIGINT when tfops dies: exec through `setpriv`, else prctl between
    fork and exec, else not at all (not Linux)."""
    if not sys.platform.startswith("linux"):
        return (), None
    setpriv = shutil.which("setpriv")
    if setpriv is not None:
        wrapper = (setpriv, "--pdeathsig", "INT", "--")
        if _setpriv_works(wrapper):
            return wrapper, None
    import ctypes  # here: only where there is no setpriv

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return (), None
    parent = os.getpid()

    def pdeathsig() -> None:  # in the child, between fork and exec
        prctl(PR_SET_PDEATHSIG, int(signal.SIGINT), 0, 0, 0)
        if os.getppid() != parent:  # tfops died before the prctl: nobody will signal
            os._exit(1)

    return (), pdeathsig


def _setpriv_works(wrapper: tuple[str, ...]) -> bool:
    """Whether this setpriv has `--pdeathsig` (util-linux 2.33+): asked once per setpriv
    binary and remembered (one more process per run otherwise)."""
    key = file_key(wrapper[0])
    store = default_cache_dir() / "setpriv.json"
    known = read_entry(store)
    known = known if isinstance(known, dict) else {}
    if key is not None and isinstance(known.get(key), bool):
        return bool(known[key])
    try:
        works = subprocess.run([*wrapper, "true"], capture_output=True).returncode == 0
    except OSError:
        return False
    if key is not None:
        write_entry(store, {**known, key: works})
    return works


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra or {})
    return env
