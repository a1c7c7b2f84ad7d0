"""wrk (the C HTTP benchmarking tool, Debian package ``wrk``) as a load client: compare.py's workers rows.

The Python clients (bench/loadgen.py, bench/pypi_index.py) cost 50-110 us of CPU per request here. On a 2-core
machine whose two server workers want both cores that share of the CPUs bounds the figure; wrk costs 30-50 us.
One wrk process per phase (``Wrk.start``, then ``Wrk.results``, as ``pypi_bench.measure`` drives client processes):

- the request is fixed for the phase: the bytes a Python client would send (``Request.parse``), given to wrk through
  a generated Lua script (``wrk.method``, ``wrk.path``, ``wrk.headers``, and ``wrk.body`` = "" where the request
  has ``Content-Length: 0``: ``wrk.format`` writes that header from the body and drops one set by hand); only the
  headers' order may differ (wrk's table). The caller checks the server's answer to those bytes before the phase;
- ``-c`` connections, one thread (``-t 1``: a thread of wrk keeps up with far more than these servers answer, and
  one thread wakes up less often than two sharing the load);
- ``-d`` takes whole seconds, so wrk is given a few more and stopped with SIGINT at the end of the window (it
  finishes within 0.1 s, then its ``done`` prints the summary);
- the script's ``response`` sees every answer: one other than 200 is an error (during the ramp too, as in the Python
  clients); the 200 answers received inside the window (``[measure_from, measure_until]`` of CLOCK_MONOTONIC, the
  clock of Python's ``time.perf_counter``, read through LuaJIT's FFI) are the measured requests (the Python clients
  count those sent inside the window and answered in it: at most one request per connection apart). wrk's socket
  errors (connect, read, write) are errors too; its own status count (> 399 only) is not needed. Responses slower
  than wrk's 2 s timeout are only counted (``extra``), as the Python clients have no timeout;
- wrk's CPU: ``/proc/<pid>/stat`` at the window's start and end (``Wrk.probe`` wraps the server's CPU probe that
  ``measure`` reads at those instants);
- latency percentiles are wrk's, over the whole run (ramp included).
"""

from __future__ import annotations

import json
import math
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

from common import BenchError
from servers import _cpu_seconds

THREADS = 1
SPARE_SECONDS = 5  # -d beyond the window; wrk is stopped at the window's end
RESULT_MARK = "COFFER-WRK "

LUA = Template(r"""-- bench/wrk_load.py: one phase's request, and every response checked
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } coffer_bench_timespec;
int clock_gettime(int clock_id, coffer_bench_timespec *tp);
]]
local CLOCK_MONOTONIC = 1 -- the clock of Python's time.perf_counter on Linux
local measure_from, measure_until = $measure_from, $measure_until

$request

-- this thread's counts (each wrk thread has a Lua state of its own; done() reads them)
seen, ok, bad, sample = 0, 0, 0, nil
local now = ffi.new("coffer_bench_timespec")

function response(status, headers, body)
  seen = seen + 1
  if status ~= 200 then
    bad = bad + 1
    sample = sample or ("HTTP " .. status .. ": " .. body:sub(1, 300))
    return
  end
  ffi.C.clock_gettime(CLOCK_MONOTONIC, now)
  local t = tonumber(now.tv_sec) + tonumber(now.tv_nsec) * 1e-9
  if t >= measure_from and t <= measure_until then
    ok = ok + 1
  end
end

local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
end

local function json_string(s)
  return '"' .. s:gsub('[%c"\\\128-\255]', function(c) return string.format("\\u%04x", c:byte()) end) .. '"'
end

function done(summary, latency, requests)
  local total_seen, total_ok, total_bad, samples = 0, 0, 0, {}
  for _, thread in ipairs(threads) do
    total_seen = total_seen + thread:get("seen")
    total_ok = total_ok + thread:get("ok")
    total_bad = total_bad + thread:get("bad")
    local s = thread:get("sample")
    if s then
      samples[#samples + 1] = json_string(s)
    end
  end
  local e = summary.errors
  io.write(string.format(
    '$mark{"seen": %.0f, "ok": %.0f, "bad": %.0f, "samples": [%s], "requests": %.0f, "duration_us": %.0f, '
      .. '"connect": %.0f, "read": %.0f, "write": %.0f, "timeout": %.0f, "p50_us": %.0f, "p99_us": %.0f}\n',
    total_seen, total_ok, total_bad, table.concat(samples, ", "), summary.requests, summary.duration,
    e.connect, e.read, e.write, e.timeout, latency:percentile(50), latency:percentile(99)))
end
""")


def binary() -> str | None:
    """wrk on PATH, or None."""
    return shutil.which("wrk")


def version(path: str) -> str:
    """wrk's version, e.g. ``wrk debian/4.1.0-3+b2`` (the start of ``wrk -v``'s first line; it exits 1)."""
    out = subprocess.run([path, "-v"], capture_output=True, text=True, timeout=30)
    lines = (out.stdout + out.stderr).strip().splitlines()
    return lines[0].split(" [")[0].split(" Copyright")[0].strip() if lines else path


def lua_string(text: str) -> str:
    """``text`` as a Lua string literal (anything but printable ASCII, quote and backslash as decimal escapes)."""
    return '"' + "".join(chr(b) if 32 <= b < 127 and b not in (34, 92) else f"\\{b:03d}" for b in text.encode()) + '"'


@dataclass(frozen=True)
class Request:
    """One HTTP/1.1 request as wrk's script sets it."""

    method: str
    target: str  # path and query
    headers: tuple[tuple[str, str], ...]  # in order, Content-Length aside
    body: str | None  # None: no Content-Length

    @classmethod
    def parse(cls, raw: bytes) -> Request:
        """The request in ``raw`` (what loadgen's signer or ``pypi_index.get_request`` built)."""
        head, sep, rest = raw.partition(b"\r\n\r\n")
        lines = head.decode("ascii").split("\r\n")
        method, target, http = lines[0].split(" ")
        if not sep or http != "HTTP/1.1":
            raise ValueError(f"not an HTTP/1.1 request: {raw[:80]!r}")
        headers, length = [], None
        for line in lines[1:]:
            name, _, value = line.partition(": ")
            if name.lower() == "content-length":
                length = int(value)
            else:
                headers.append((name, value))
        if len(rest) != (length or 0):
            raise ValueError(f"the body is {len(rest)} bytes, Content-Length says {length}")
        return cls(method, target, tuple(headers), None if length is None else rest.decode("ascii"))

    def lua(self) -> str:
        lines = [f"wrk.method = {lua_string(self.method)}", f"wrk.path = {lua_string(self.target)}"]
        if self.body is not None:
            lines.append(f"wrk.body = {lua_string(self.body)} -- wrk.format sends Content-Length: #wrk.body")
        lines += [f"wrk.headers[{lua_string(name)}] = {lua_string(value)}" for name, value in self.headers]
        return "\n".join(lines)


def script(request: Request, measure_from: float, measure_until: float) -> str:
    return LUA.substitute(
        measure_from=repr(measure_from), measure_until=repr(measure_until), request=request.lua(), mark=RESULT_MARK
    )


class Wrk:
    """wrk, one process per phase (phases one after another); its scripts are written into ``script_dir``."""

    def __init__(self, path: str, script_dir: Path) -> None:
        self.path = path
        self.script_dir = script_dir
        self.process: subprocess.Popen[str] | None = None
        self.window = (0.0, 0.0)
        self.cpu_samples: list[float] = []
        self.summary: dict[str, Any] = {}

    def start(
        self, host: str, port: int, request: Request, connections: int, measure_from: float, measure_until: float
    ) -> None:
        """Load from now until ``measure_until`` (``time.perf_counter`` instants), measured from ``measure_from``."""
        path = self.script_dir / "wrk-phase.lua"
        path.write_text(script(request, measure_from, measure_until))
        seconds = math.ceil(measure_until - time.perf_counter()) + SPARE_SECONDS
        cmd = [self.path, "-t", str(THREADS), "-c", str(connections), "-d", f"{seconds}s", "-s", str(path)]
        self.process = subprocess.Popen([*cmd, f"http://{host}:{port}{request.target}"], stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True)  # fmt: skip
        self.window = (measure_from, measure_until)
        self.cpu_samples = []

    def probe(self, cpu: Callable[[], float]) -> Callable[[], float]:
        """``cpu`` (the server's CPU seconds), also sampling wrk's CPU each time it is read."""

        def both() -> float:
            if self.process is not None:
                self.cpu_samples.append(_cpu_seconds(self.process.pid))
            return cpu()

        return both

    def results(self) -> list[dict[str, Any]]:
        """Stop wrk at the window's end; its counts as one loadgen ``PhaseResult`` message."""
        assert self.process is not None
        measure_from, measure_until = self.window
        time.sleep(max(0.0, measure_until - time.perf_counter()))
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            out, err = self.process.communicate(timeout=60)
        finally:
            self.close()
        line = next((x for x in out.splitlines() if x.startswith(RESULT_MARK)), None)
        if self.process.returncode != 0 or line is None:
            raise BenchError(f"wrk (exit {self.process.returncode}) gave no result:\n{out[-2000:]}\n{err[-2000:]}")
        s = self.summary = json.loads(line[len(RESULT_MARK) :])
        if s["seen"] != s["requests"]:
            raise BenchError(f"wrk counted {s['requests']} responses, its script checked {s['seen']}:\n{out[-2000:]}")
        samples = list(s["samples"])
        sockets = s["connect"] + s["read"] + s["write"]
        if sockets:
            samples.append(f"wrk socket errors: connect {s['connect']}, read {s['read']}, write {s['write']}")
        if not s["ok"] and not s["bad"] and not sockets:
            raise BenchError(f"wrk: no response inside the window ({s['requests']} in all):\n{out[-2000:]}")
        cpu = self.cpu_samples[-1] - self.cpu_samples[-2] if len(self.cpu_samples) >= 2 else float("nan")
        return [
            {
                "ok": s["ok"],
                "errors": s["bad"] + sockets,
                "latencies": b"",
                "error_samples": samples,
                "window": measure_until - measure_from,
                "cpu_seconds": cpu,
            }
        ]

    def details(self) -> dict[str, Any]:
        """What the last phase's wrk said beyond the counts (for ``Phase.extra``)."""
        s = self.summary
        return {"requests": s["requests"], "seconds": s["duration_us"] / 1e6, "timeouts": s["timeout"],
                "threads": THREADS}  # fmt: skip

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
