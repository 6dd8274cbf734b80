"""The sandbox child: runs one script in QuickJS and talks to the parent over its pipes.

Started as `python -I child.py` with an empty environment, in an empty folder, in its own
process group. It imports nothing of Manifold (the parent imports the framing from here), sets
its own resource limits, and never calls dukpy's JSInterpreter: that one exposes the host
environment as `process.env`, `require` and a file loader. The raw QuickJS context below
knows only the host functions listed in `_funcs`, and the prelude keeps even those out of the
script's reach.

Frames on both pipes: 4-byte big-endian header length, JSON header, 4-byte payload length,
payload bytes (records as JSON text travel as payload, never re-escaped inside a header; so
does a fetched body whose records the script emitted untouched, see fetched.py).
"""

from __future__ import annotations

import importlib.util
import json
import os
import resource
import secrets
import signal
import struct
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import IO, TYPE_CHECKING, Any, NamedTuple, NoReturn

import orjson

if TYPE_CHECKING:
    from manifold_pipelines.sources.sandbox.fetched import FetchedBodies

PRELUDE = Path(__file__).with_name("prelude.js")
# Evaluated first; the prelude takes what it defines before any script exists.
FETCHED_JS = Path(__file__).with_name("fetched.js")
# Of the memory a run may use, what the child may spend holding fetched bodies.
FETCHED_SHARE = 8
MAX_DELAY_SECONDS = 5.0
_LENGTH = struct.Struct(">I")
# The types of the arguments the prelude calls each host function with. dukpy serialises a
# call's arguments with JSON.stringify, which script code can reach (a toJSON() on
# Array.prototype); the prelude refuses any call that code would rewrite, and a call that
# still arrives otherwise ends the run here, before a host function fails on it in Python's
# words (an AttributeError from str.encode).
HOST_ARGUMENTS: dict[str, set[tuple[type, ...]]] = {
    "console": {(str, str)},
    "fetch": {(str, dict)},
    "json": {(int,)},
    "emit": {(str,)},
    "emitFetched": {(int,)},
    "delete": {(str,)},
    "state": {(str,)},
    "sleep": {(int,), (float,)},
    "refuse": {(str,)},
}
REWRITTEN_CALL = (
    "the sandbox's {name!r} call reached the host with arguments it never sent: script code"
    " changed how JSON.stringify serialises them (a toJSON() or an element 0 or 1 on"
    " Array.prototype or Object.prototype, or a replaced prototype). Remove that override."
    " Nothing was imported."
)


def write_frame(stream: IO[bytes], header: dict[str, Any], payload: bytes = b"") -> None:
    encoded = json.dumps(header).encode()
    stream.write(_LENGTH.pack(len(encoded)) + encoded + _LENGTH.pack(len(payload)) + payload)
    stream.flush()


def end_with_error(out: IO[bytes], kind: str, message: str) -> NoReturn:
    """Report the run's error and exit at once, from wherever the child is (even inside a
    host call the script made)."""
    write_frame(out, {"type": "error", "kind": kind}, message.encode("utf-8", "replace"))
    os._exit(2)


def call_arguments(name: str, json_args: bytes) -> list[Any] | None:
    """The arguments of a call to host function `name`, or None when they are not what the
    prelude sends (HOST_ARGUMENTS). Types are matched exactly (JSON true is no number), in
    one set lookup: this runs for every batch of records."""
    try:
        args = orjson.loads(json_args)
    except orjson.JSONDecodeError:
        return None
    if type(args) is list and tuple(map(type, args)) in HOST_ARGUMENTS[name]:
        return args
    return None


def read_exactly(stream: IO[bytes], size: int) -> bytes | None:
    chunks = []
    while size:
        chunk = stream.read(size)
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


class Frame(NamedTuple):
    header: dict[str, Any]
    payload: bytes
    size: int
    """Bytes the frame took on the pipe, its length prefixes included."""


class FrameTooLarge(Exception):
    """A frame longer than its reader allows, refused before its bytes are read."""

    def __init__(self, size: int) -> None:
        super().__init__(f"a frame of {size} bytes")
        self.size = size


def read_frame(stream: IO[bytes], max_size: int | None = None) -> Frame | None:
    """The next frame, or None at end of stream. With `max_size`, a frame longer than that
    raises FrameTooLarge as soon as its lengths are known, before it is read into memory."""
    raw = read_exactly(stream, 4)
    if raw is None:
        return None
    header_size = _LENGTH.unpack(raw)[0]
    if max_size is not None and 8 + header_size > max_size:
        raise FrameTooLarge(8 + header_size)
    header = read_exactly(stream, header_size)
    raw = read_exactly(stream, 4)
    if header is None or raw is None:
        return None
    size = 8 + header_size + _LENGTH.unpack(raw)[0]
    if max_size is not None and size > max_size:
        raise FrameTooLarge(size)
    payload = read_exactly(stream, size - 8 - header_size)
    if payload is None:
        return None
    return Frame(json.loads(header), payload, size)


class _Child:
    """The host side of the script: the functions the prelude may call, and nothing else."""

    def __init__(
        self, start: dict[str, Any], out: IO[bytes], inp: IO[bytes], fetched: FetchedBodies
    ) -> None:
        from dukpy import _dukpy

        self._dukpy = _dukpy
        self._ctx = _dukpy.create_context()
        self.start = start
        self.fetched = fetched
        self._token = secrets.token_hex(16)
        self.out = out
        self.inp = inp
        self._funcs: dict[str, Callable[..., Any]] = {
            "console": self.console,
            "fetch": self.fetch,
            "json": self.fetched.envelope,
            "emit": self.emit,
            "emitFetched": self.emit_fetched,
            "delete": self.delete,
            "state": self.state,
            "sleep": self.sleep,
            "refuse": self.refuse,
        }

    # The two methods dukpy's C extension calls back into.
    def _check_exported_function_exists(self, name: bytes) -> bool:
        return name.decode() in self._funcs

    def _call_python(self, name: bytes, json_args: bytes) -> bytes | None:
        """orjson reads a batch of records (JSON text inside the JSON of the arguments) in a
        fifth of the time json takes."""
        function = name.decode()
        args = call_arguments(function, json_args)
        if args is None:
            end_with_error(self.out, "script", REWRITTEN_CALL.format(name=function))
        result = self._funcs[function](*args)
        return None if result is None else orjson.dumps(result)

    def eval(self, code: str, **values: Any) -> Any:
        """Every evaluation carries the run's token: the prelude's entry points answer only
        a delivery that has it, and a script can never read it."""
        delivery = json.dumps({**values, "token": self._token}).encode()
        raw = self._dukpy.eval_string(self, code.encode(), delivery, False, "<dukpy>")
        return None if raw is None else json.loads(raw)

    def console(self, level: str, message: str) -> None:
        write_frame(self.out, {"type": "console", "level": level}, message.encode())

    def emit(self, records_json: str) -> None:
        write_frame(self.out, {"type": "records"}, records_json.encode())

    def emit_fetched(self, number: int) -> bool:
        """Send the records of a stand-in the script left untouched as the body holding
        them; False when that body is no longer held."""
        taken = self.fetched.taken(number)
        if taken is None:
            return False
        found, body = taken
        write_frame(self.out, {"type": "fetched", "path": found.path, "count": found.length}, body)
        return True

    def delete(self, keys_json: str) -> None:
        write_frame(self.out, {"type": "deleted"}, keys_json.encode())

    def state(self, state_json: str) -> None:
        """The script's final state, sent once by the prelude's finish(), after its records."""
        write_frame(self.out, {"type": "state"}, state_json.encode())

    def refuse(self, message: str) -> NoReturn:
        """A rule the script broke from code the host's own code called (a getter or toJSON
        while records are read): the run ends here, since an error thrown back into the
        script could be caught there and the run would go on."""
        end_with_error(self.out, "script", message)

    def sleep(self, milliseconds: float) -> None:
        time.sleep(min(max(float(milliseconds), 0.0), MAX_DELAY_SECONDS * 1000) / 1000)

    def fetch(self, url: str, options: dict[str, Any]) -> dict[str, Any]:
        write_frame(self.out, {"type": "fetch", "url": url, "options": options})
        reply = read_frame(self.inp)
        if reply is None:
            os._exit(4)
        answer = {**reply.header, "body": reply.payload.decode("utf-8", errors="replace")}
        if "error" not in reply.header:
            answer["fetch"] = self.fetched.keep(reply.payload)
        return answer

    def run(self) -> None:
        start = self.start
        self.eval(FETCHED_JS.read_text(encoding="utf-8"))
        self.eval(PRELUDE.read_text(encoding="utf-8"))
        self._unhandled(
            "__manifold.start()",
            script=start["script"],
            variables=start["variables"],
            env=start["env"],
            inputs=start.get("inputs", {}),
            state=start.get("state", {}),
        )
        while True:
            delay = self.eval("__manifold.nextTimerDelay()")
            if delay is None:
                break
            self.sleep(delay)
            self._unhandled("__manifold.runNextTimer()")
        self.eval("__manifold.finish()")

    def _unhandled(self, code: str, **values: Any) -> None:
        """Errors escaping these evaluations are the script's syntax errors, or errors nobody
        handled: QuickJS raises an unhandled rejection when it drains the job queue."""
        try:
            self.eval(code, **values)
        except self._dukpy.JSRuntimeError as exc:
            text = str(exc)
            if text.startswith("SyntaxError") or text.strip() in ("", "null"):
                raise
            raise self._dukpy.JSRuntimeError(
                f"an error nobody handled (an unhandled promise rejection, or a throw in a"
                f" setTimeout callback): {text}"
            ) from exc


def _sibling(name: str) -> ModuleType:
    """A module beside this file, loaded by its path: importing it through its package
    would load the whole of Manifold into the child."""
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _limit_resources(start: dict[str, Any]) -> None:
    """Address space, CPU seconds, no files written, few descriptors, no child processes."""
    megabytes = int(start["memory_limit_mb"]) + int(start.get("baseline_mb", 0))
    resource.setrlimit(resource.RLIMIT_AS, (megabytes * 2**20, megabytes * 2**20))
    cpu = int(float(start["timeout_seconds"])) + 2
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (16, 16))
    resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))


def _arm_timer(seconds: float, out: IO[bytes]) -> None:
    """Report the timeout and exit from the signal handler itself: an exception raised here
    could be caught by the script (it becomes a JS error inside host calls)."""

    def on_alarm(_signum: int, _frame: object) -> None:
        write_frame(out, {"type": "timeout"})
        os._exit(3)

    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)


def main() -> None:
    out, inp = sys.stdout.buffer, sys.stdin.buffer
    first = read_frame(inp)
    if first is None:
        return
    start = first[0]
    budget = int(start["memory_limit_mb"]) * 2**20 // FETCHED_SHARE
    child = _Child(start, out, inp, _sibling("fetched").FetchedBodies(budget))
    _limit_resources(start)
    _arm_timer(float(start["timeout_seconds"]), out)
    try:
        child.run()
    except MemoryError:
        end_with_error(out, "memory", "ran out of memory")
    except RecursionError:
        end_with_error(out, "shape", "nested too deeply to return")
    except Exception as exc:  # the script's own error, reported as text, never re-raised
        end_with_error(out, "script", str(exc).strip() or type(exc).__name__)
    write_frame(out, {"type": "done"})
    os._exit(0)


if __name__ == "__main__":
    main()
