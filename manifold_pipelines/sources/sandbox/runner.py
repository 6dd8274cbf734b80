"""The parent side of a JavaScript run: spawn the child, answer its fetches, stream its
records, and kill its whole process group when it overstays or misbehaves.

The child's own timer reports a timeout cleanly; the parent's deadline, a little later, is
the one a script cannot swallow.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import orjson

from manifold_pipelines.core.models import DataSource
from manifold_pipelines.core.source_config import JavascriptConfig, variables_hiding_context
from manifold_pipelines.errors import cap_error_text
from manifold_pipelines.sources.base import (
    MAX_STATE_BYTES,
    RecordChunks,
    RunContext,
    RunLog,
    SourceRunError,
)
from manifold_pipelines.sources.http import FetchError, HostFetch
from manifold_pipelines.sources.sandbox import child as protocol

CHILD = Path(protocol.__file__)
HARD_KILL_GRACE_SECONDS = 2.0
# Address space the child needs before the script allocates anything (Python, dukpy, QuickJS).
BASELINE_MB = 48
# Pipe buffers the size Linux lets any user ask for (fs.pipe-max-size), instead of 64 KiB: the
# child serialises its next records while the host imports the last, instead of waiting for
# the host to read every 64 KiB of a chunk.
PIPE_BYTES = 2**20
# Records yielded between two looks at the child's pipe while the host takes in a batch: see
# JavascriptRun._serving.
SERVE_EVERY = 1000
# What the pipe gave at its end, read while a batch was being taken in.
_ENDED: tuple[dict[str, Any], bytes] = ({}, b"")


class JavascriptRunner:
    def start(self, source: DataSource, context: RunContext) -> JavascriptRun:
        config = source.config
        assert isinstance(config, JavascriptConfig)
        hidden = variables_hiding_context(config.variables)
        if hidden:
            raise SourceRunError(
                f"Data source '{source.qualified_id}': variable(s) {', '.join(hidden)} now"
                " name part of the script context (state and deleteRecords came with"
                " incremental imports), which would hide them. Rename the variable(s) in the"
                " source's config. Nothing was imported."
            )
        return JavascriptRun(source.qualified_id, config, context)


def _secrets(config: JavascriptConfig, label: str) -> dict[str, str]:
    missing = [name for name in config.env if name not in os.environ]
    if missing:
        raise SourceRunError(
            f"Data source '{label}': environment variable(s) {', '.join(missing)} are listed in"
            " its env config but not set. Set them where Manifold runs, or remove them from env."
        )
    return {name: os.environ[name] for name in config.env}


class JavascriptRun:
    def __init__(self, label: str, config: JavascriptConfig, context: RunContext) -> None:
        self.label = label
        self.config = config
        self.log = RunLog()
        self.deleted: list[Any] = []
        self.records_from_bodies = 0
        """Records the host took from fetched bodies (those a script passed untouched from a
        body's r.json() to emit()), among all it yielded."""
        self.fetcher = HostFetch(config.mock_responses, config.allowed_hosts)
        self._start = {
            "script": config.script,
            "variables": config.variables,
            "inputs": dict(context.inputs),
            "state": dict(context.state),
            "timeout_seconds": config.timeout_seconds,
            "memory_limit_mb": config.memory_limit_mb,
            "baseline_mb": BASELINE_MB,
        }
        self._output_left = config.max_output_mb * 2**20
        self._state: dict[str, Any] | None = None
        self._pending: tuple[dict[str, Any], bytes] | None = None
        self._finished = False
        self._process: subprocess.Popen[bytes] | None = None
        self._workdir: tempfile.TemporaryDirectory[str] | None = None

    def _fail(self, what: str) -> SourceRunError:
        self.log.add("error", cap_error_text(what))
        return SourceRunError(cap_error_text(f"Data source '{self.label}': {what}"))

    def _spawn(self) -> subprocess.Popen[bytes]:
        self._workdir = tempfile.TemporaryDirectory(prefix="manifold-js-")
        process = subprocess.Popen(
            [sys.executable, "-I", str(CHILD)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={},
            cwd=self._workdir.name,
            start_new_session=True,
            close_fds=True,
            bufsize=0,
        )
        self._process = process
        assert process.stdin is not None and process.stdout is not None
        for stream in (process.stdin, process.stdout):
            # Refused once the user's pipes hold more than fs.pipe-user-pages-soft.
            with contextlib.suppress(OSError):
                fcntl.fcntl(stream.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        return process

    def records(self) -> RecordChunks:
        return RecordChunks(self._chunks(), parsed=True)

    def _chunks(self) -> Iterator[list[Any]]:
        """The records, in the lists parsed from the child's messages (sliced, see _serving);
        none is touched once yielded."""
        start = {**self._start, "env": _secrets(self.config, self.label)}
        process = self._spawn()
        assert process.stdin is not None and process.stdout is not None
        soft_deadline = time.monotonic() + self.config.timeout_seconds
        deadline = soft_deadline + HARD_KILL_GRACE_SECONDS
        try:
            protocol.write_frame(process.stdin, start)
            while True:
                frame, self._pending = self._pending, None
                if frame is None:
                    frame = self._next_frame(process.stdout, deadline)
                if frame is None or frame is _ENDED:
                    raise self._ended_without_answer(process)
                if self._answered(process.stdin, frame, soft_deadline):
                    continue
                header, payload = frame
                kind = header.get("type")
                if kind == "records":
                    records = self._parse(payload, "records")
                    yield from self._serving(process, records, soft_deadline)
                elif kind == "fetched":
                    records = self._fetched_records(header, payload)
                    yield from self._serving(process, records, soft_deadline)
                elif kind == "deleted":
                    self.deleted.extend(self._parse(payload, "keys"))
                elif kind == "state":
                    self._state = self._parse_state(payload)
                elif kind == "done":
                    self._finished = True
                    return
                elif kind == "timeout":
                    raise self._fail(
                        f"the script timed out after {self.config.timeout_seconds:g} s"
                        " (timeoutSeconds). Make it faster or raise timeoutSeconds."
                    )
                elif kind == "error":
                    raise self._fail(_script_error(header, payload, self.config))
                else:
                    raise self._fail(f"the sandbox sent an unknown message {kind!r}")
        except BrokenPipeError as exc:
            raise self._ended_without_answer(process) from exc
        finally:
            self.close()

    def _serving(
        self, process: subprocess.Popen[bytes], records: list[Any], soft_deadline: float
    ) -> Iterator[list[Any]]:
        """Yield `records` in slices of SERVE_EVERY, answering after each the fetches and console
        lines the child sent meanwhile: the script fetches and reads its next page while the
        host imports this one, instead of waiting for the whole batch. Any other message is
        read and kept until the batch is all yielded; the child waits behind it, as before."""
        assert process.stdout is not None and process.stdin is not None
        deadline = soft_deadline + HARD_KILL_GRACE_SECONDS
        for start in range(0, len(records), SERVE_EVERY):
            yield records[start : start + SERVE_EVERY]
            while self._pending is None and select.select([process.stdout], [], [], 0)[0]:
                frame = self._next_frame(process.stdout, deadline)
                if frame is None:
                    self._pending = _ENDED
                elif not self._answered(process.stdin, frame, soft_deadline):
                    self._pending = frame

    def _answered(
        self, stdin: IO[bytes], frame: tuple[dict[str, Any], bytes], soft_deadline: float
    ) -> bool:
        """Answer a fetch, or log a console line; False for any other message."""
        header, payload = frame
        kind = header.get("type")
        if kind == "fetch":
            self._answer_fetch(stdin, header, soft_deadline)
        elif kind == "console":
            self.log.add(str(header.get("level")), payload.decode("utf-8", "replace"))
        return kind in ("fetch", "console")

    def _next_frame(
        self, stream: IO[bytes], deadline: float
    ) -> tuple[dict[str, Any], bytes] | None:
        remaining = deadline - time.monotonic()
        ready, _, _ = select.select([stream], [], [], max(remaining, 0))
        if not ready:
            self.close()
            raise self._fail(
                f"the script did not stop within {self.config.timeout_seconds:g} s"
                " (timeoutSeconds) and was killed."
            )
        try:
            frame = protocol.read_frame(stream, self._output_left)
        except protocol.FrameTooLarge as exc:
            self.close()
            raise self._fail(
                f"the script sent more than {self.config.max_output_mb} MB (maxOutputMb) to the"
                " host: records, console lines and errors all count. Emit less, or raise"
                " maxOutputMb if the source is really this large."
            ) from exc
        if frame is None:
            return None
        self._output_left -= frame.size
        return frame.header, frame.payload

    def _parse(self, payload: bytes, what: str) -> list[Any]:
        """A batch of records or keys, which the prelude sends as a JSON array."""
        try:
            batch = orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            raise self._fail(
                f"the script sent {what} that are not valid JSON ({exc}); a string with a lone"
                " surrogate is the usual cause."
            ) from exc
        if not isinstance(batch, list):
            raise self._fail(f"the sandbox sent {what} that are not a JSON array")
        return batch

    def _fetched_records(self, header: dict[str, Any], body: bytes) -> list[Any]:
        """Records the script passed untouched from a fetched body to emit(): the body, as
        fetched, and where in it they are (sandbox/fetched.py)."""
        records: Any = None
        try:
            records = orjson.loads(body)
            for key in header["path"]:
                records = records[key]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            records = None
        if not (isinstance(records, list) and len(records) == header["count"]):
            raise self._fail("the sandbox sent a fetched body without the records it named")
        self.records_from_bodies += len(records)
        return records

    def _parse_state(self, payload: bytes) -> dict[str, Any]:
        """The state the script ended with. The prelude sends it once, as an object; its size
        is checked here, in bytes, where it is stored."""
        if self._state is not None:
            raise self._fail("the sandbox sent the script's state twice")
        if len(payload) > MAX_STATE_BYTES:
            raise self._fail(
                f"the script's state is {len(payload):,} bytes as JSON, more than the"
                f" {MAX_STATE_BYTES:,} a state may hold. Keep cursors and page tokens in state,"
                " not data. Nothing was imported."
            )
        try:
            state = orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            raise self._fail(
                f"the script's state is not valid JSON ({exc}); a string with a lone surrogate"
                " or nesting over 1,024 levels is the usual cause. Nothing was imported."
            ) from exc
        if not isinstance(state, dict):
            raise self._fail("the sandbox sent a state that is not a JSON object")
        return state

    def _answer_fetch(self, stdin: IO[bytes], header: dict[str, Any], deadline: float) -> None:
        url = str(header.get("url"))
        try:
            reply = self.fetcher.fetch(
                url, header.get("options"), within=deadline - time.monotonic()
            )
        except FetchError as exc:
            self.log.add("warn", str(exc))
            self._reply(stdin, {"status": 0, "headers": {}, "error": str(exc)})
            return
        self.log.add("info", f"fetch {url} -> {reply.status} ({len(reply.body)} bytes)")
        self._reply(stdin, {"status": reply.status, "headers": reply.headers}, reply.body)

    @staticmethod
    def _reply(stdin: IO[bytes], header: dict[str, Any], body: bytes = b"") -> None:
        """A child that timed out while the parent fetched has exited; its timeout frame is
        still to be read, so a closed pipe here is not the error to report."""
        with contextlib.suppress(BrokenPipeError):
            protocol.write_frame(stdin, header, body)

    def _ended_without_answer(self, process: subprocess.Popen[bytes]) -> SourceRunError:
        code = process.wait(timeout=HARD_KILL_GRACE_SECONDS)
        if code < 0 and -code in (signal.SIGXCPU, signal.SIGKILL):
            return self._fail(
                f"the script used more CPU time than its {self.config.timeout_seconds:g} s limit"
                " and was killed."
            )
        if code < 0:
            return self._fail(f"the sandbox process died from signal {signal.Signals(-code).name}.")
        stderr = process.stderr.read().decode("utf-8", "replace")[-500:] if process.stderr else ""
        return self._fail(f"the sandbox process ended without a result (exit {code}). {stderr}")

    def final_state(self) -> dict[str, Any] | None:
        """The global `state` as the script left it: the committed state, changed or not (a
        script that never touches it gives back an equal copy), in either mode."""
        if not self._finished:
            raise RuntimeError("final_state() is read once records() ran to its end")
        return self._state

    def close(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            for stream in (process.stdin, process.stdout, process.stderr):
                if stream is not None:
                    stream.close()
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None


def _script_error(header: dict[str, Any], payload: bytes, config: JavascriptConfig) -> str:
    text = payload.decode("utf-8", "replace")
    if text.strip() in ("", "null"):
        return (
            "the JavaScript engine stopped without an error value, which QuickJS does when its"
            " memory is exhausted by jobs that never end (an ever-growing promise chain)."
        )
    if header.get("kind") == "memory" or "out of memory" in text:
        return (
            f"the script ran out of memory (memoryLimitMb {config.memory_limit_mb}, and at most"
            " 128 MiB of JavaScript heap). Stream large results with emit(batch)."
        )
    # Frames of the prelude (<dukpy>, <eval>) say nothing to the script's author.
    lines = [
        line.strip()
        for line in text.splitlines()
        if line.strip() and "(<dukpy>" not in line and "<eval>" not in line
    ]
    message = " ".join(lines[:6]).removeprefix("Error: ")
    # The AsyncFunction constructor puts the script two lines into its own source text.
    return re.sub(
        r"<input>:(\d+):(\d+)",
        lambda m: f"script line {int(m.group(1)) - 2}, column {m.group(2)}",
        message,
    )
