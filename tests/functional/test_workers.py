"""``coffer serve --workers N``: N worker processes on one socket, against real server processes.

Which worker answered a request is known by asking ``/health`` first on the same (new) connection: a worker of
several reports its number there. Every check that "every worker" does something fails unless both workers of the
server answered it, over new connections until each has answered a few times.

Coherence, with the default cache lifetime (``COFFER_CACHE_TTL`` 1 s). Each worker first caches the state before
a change (its requests answer from it), then:

- a change made through the server, whichever worker made it (an identity or resource policy that now denies, a
  new repository, a newly published version), is seen by every worker at once: the workers share their cache
  invalidations;
- a change made elsewhere (``coffer admin``: a revoked token, a user policy) is seen by every worker at most the
  cache lifetime after it was made: after exactly that, none may still answer from what it cached before.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from coffer.app.workers import WorkerBoard
from coffer.cli.serve import serve
from coffer.settings import MAX_DEFAULT_WORKERS, Settings, SettingsError, default_workers
from tests.functional.conftest import ACCOUNT, make_client, new_user, token_policy
from tests.functional.dists import upload_form
from tests.functional.server import RunningServer, coffer_command, running_server
from tests.functional.test_api_packages import build_wheel, wheel_name

WORKERS = 2
CACHE_TTL = 1.0  # the default: what every worker's caches keep at most


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(
        tmp_path_factory.mktemp("workers") / "data",
        "--workers",
        str(WORKERS),
        "--account-id",
        ACCOUNT,
        env={"COFFER_CACHE_TTL": str(CACHE_TTL)},
    ) as srv:
        on_fresh_connections(srv, lambda client: client.get("/health"))  # every worker serves
        yield srv


@dataclass(frozen=True)
class Answer:
    worker: int
    status: int
    text: str


def on_fresh_connections(
    server: RunningServer, request: Callable[[httpx.Client], httpx.Response], each: int = 2, most: int = 400
) -> list[Answer]:
    """``request`` on new connections, each of which first asks ``/health`` which worker it reached, until every
    worker has answered ``each`` times; fails if one never does within ``most`` connections."""
    answers: list[Answer] = []
    counts: Counter[int] = Counter()
    for _ in range(most):
        with httpx.Client(base_url=server.url, timeout=10) as client:
            health = client.get("/health")
            response = request(client)
            same = [r.extensions["network_stream"].get_extra_info("client_addr") for r in (health, response)]
        assert same[0] == same[1], "the request went out on another connection than /health's"
        worker = health.json()["worker"]
        counts[worker] += 1
        answers.append(Answer(worker, response.status_code, response.text))
        if len(counts) == WORKERS and min(counts.values()) >= each:
            assert set(counts) == set(range(1, WORKERS + 1))
            return answers
    pytest.fail(f"over {most} new connections the workers answered {dict(counts)}: each of {WORKERS} must")


def statuses(answers: list[Answer]) -> dict[int, set[int]]:
    """Worker -> the statuses it answered."""
    out: dict[int, set[int]] = {}
    for answer in answers:
        out.setdefault(answer.worker, set()).add(answer.status)
    return out


def every_worker(status: int) -> dict[int, set[int]]:
    return {worker: {status} for worker in range(1, WORKERS + 1)}


def after_the_cache_ttl(changed: float) -> None:
    """Wait until the caches' lifetime has passed since ``changed`` (``time.monotonic()`` once the change was
    made): whatever a worker cached before the change has expired then, and not a moment later."""
    time.sleep(max(0.0, changed + CACHE_TTL - time.monotonic()))


def new_repository(server: RunningServer, name: str) -> tuple[Any, str, str]:
    """A domain and repository named after ``name``, and an admin token for the domain: (client, domain, token)."""
    ca = make_client(server)
    domain = f"{name}-dom"
    ca.create_domain(domain=domain)
    ca.create_repository(domain=domain, repository=name)
    return ca, domain, ca.get_authorization_token(domain=domain)["authorizationToken"]


def index_path(domain: str, repository: str, project: str = "") -> str:
    return f"/pypi/d/{domain}-{ACCOUNT}/{repository}/simple/{project + '/' if project else ''}"


def upload(client: httpx.Client, domain: str, repository: str, token: str, name: str, version: str) -> httpx.Response:
    wheel, filename = build_wheel(name, version), wheel_name(name, version)
    return client.post(
        f"/pypi/d/{domain}-{ACCOUNT}/{repository}/",
        data=upload_form(filename, wheel),
        files={"content": (filename, wheel, "application/octet-stream")},
        auth=("aws", token),
    )


# --- coherence -----------------------------------------------------------------------------------------------


def test_a_revoked_token_is_refused_by_every_worker_within_the_cache_lifetime(workers: RunningServer) -> None:
    _, domain, token = new_repository(workers, "revoked")

    def read(client: httpx.Client) -> httpx.Response:
        return client.get(index_path(domain, "revoked"), auth=("aws", token))

    assert statuses(on_fresh_connections(workers, read)) == every_worker(200)  # each worker has it cached valid
    revoked = subprocess.run(
        [*coffer_command(), "admin", "revoke-token", "-", "--data-dir", str(workers.data_dir)],
        input=token,
        capture_output=True,
        text=True,
        timeout=60,
    )
    changed = time.monotonic()
    assert revoked.returncode == 0, revoked.stderr
    after_the_cache_ttl(changed)
    assert statuses(on_fresh_connections(workers, read)) == every_worker(401)


def deny_read(arn: str | None = None) -> str:
    statement: dict[str, Any] = {"Effect": "Deny", "Action": "codeartifact:ReadFromRepository", "Resource": "*"}
    if arn is not None:
        statement["Principal"] = {"AWS": arn}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


@pytest.mark.parametrize("how", ["iam-api", "repository-policy", "coffer-admin"])
def test_a_policy_that_now_denies_is_applied_by_every_worker(workers: RunningServer, how: str) -> None:
    """Through the server (IAM's PutUserPolicy, PutRepositoryPermissionsPolicy): at once; by ``coffer admin
    put-user-policy``: within the cache lifetime."""
    repository = f"denied-{how}"
    ca, domain, _ = new_repository(workers, repository)
    user = new_user(workers, token_policy("codeartifact:ReadFromRepository"), f"reader-{how}")
    token = user.get_authorization_token(domain=domain)["authorizationToken"]

    def read(client: httpx.Client) -> httpx.Response:
        return client.get(index_path(domain, repository), auth=("aws", token))

    assert statuses(on_fresh_connections(workers, read)) == every_worker(200)
    if how == "iam-api":
        make_client(workers, service="iam").put_user_policy(
            UserName=user.user_name, PolicyName="deny-read", PolicyDocument=deny_read()
        )
    elif how == "repository-policy":
        arn = f"arn:aws:iam::{ACCOUNT}:user/{user.user_name}"
        ca.put_repository_permissions_policy(domain=domain, repository=repository, policyDocument=deny_read(arn))
    else:
        policy_file = workers.data_dir.parent / f"deny-{how}.json"
        policy_file.write_text(deny_read())
        command = [*coffer_command(), "admin", "put-user-policy", user.user_name, str(policy_file)]
        put = subprocess.run(
            [*command, "--data-dir", str(workers.data_dir)], capture_output=True, text=True, timeout=60
        )
        changed = time.monotonic()
        assert put.returncode == 0, put.stderr
        after_the_cache_ttl(changed)
    denied = on_fresh_connections(workers, read)
    assert statuses(denied) == every_worker(403)
    assert all("not authorized" in answer.text for answer in denied), denied[0].text


def test_a_new_repository_and_a_new_version_are_served_by_every_worker_at_once(workers: RunningServer) -> None:
    ca, domain, token = new_repository(workers, "first")
    index, project = index_path(domain, "later"), index_path(domain, "later", "fresh-pkg")

    def get(path: str) -> Callable[[httpx.Client], httpx.Response]:
        return lambda client: client.get(path, auth=("aws", token))

    assert statuses(on_fresh_connections(workers, get(index))) == every_worker(404)  # no such repository, cached
    ca.create_repository(domain=domain, repository="later")
    assert statuses(on_fresh_connections(workers, get(index))) == every_worker(200)

    assert statuses(on_fresh_connections(workers, get(project))) == every_worker(404)  # no such package, cached
    with httpx.Client(base_url=workers.url, timeout=30) as client:
        published = upload(client, domain, "later", token, "fresh-pkg", "1.0")
    assert published.status_code == 200, published.text
    served = on_fresh_connections(workers, get(project))
    assert statuses(served) == every_worker(200)
    assert all(wheel_name("fresh-pkg", "1.0") in answer.text for answer in served)


def test_the_workers_count_each_others_invalidations_not_their_own() -> None:
    board = WorkerBoard(3)
    first, second = board.invalidations(1), board.invalidations(2)
    assert (first.elsewhere(), second.elsewhere()) == (0, 0)
    first.made()
    first.made()
    assert (first.elsewhere(), second.elsewhere()) == (0, 2)
    second.made()
    assert (first.elsewhere(), second.elsewhere()) == (1, 2)
    again = board.invalidations(1)  # a worker started again in place of the first goes on from its count
    assert again.elsewhere() == 1
    again.made()
    assert second.elsewhere() == 3


# --- one socket, connections spread ----------------------------------------------------------------------------


async def _burst(host: str, port: int, connections: int) -> Counter[int]:
    """Open ``connections`` at once, then ask /health on each (all held open): how many each worker took."""
    opened = await asyncio.gather(*(asyncio.open_connection(host, port) for _ in range(connections)))
    took: Counter[int] = Counter()
    try:
        for _, writer in opened:
            writer.write(f"GET /health HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
        for reader, _ in opened:
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
            took[json.loads(await reader.readexactly(length))["worker"]] += 1
    finally:
        for _, writer in opened:
            writer.close()
    return took


def test_keep_alive_connections_opened_at_once_are_spread_over_the_workers(workers: RunningServer) -> None:
    host, port = workers.url.removeprefix("http://").rsplit(":", 1)
    for _ in range(3):
        took = asyncio.run(_burst(host, int(port), 32))
        # each accepts one at a time and leaves new ones to a worker holding 2 fewer (the event loop's own server
        # took all 32 in one worker, some of the time)
        assert sum(took.values()) == 32 and min(took[1], took[2]) >= 12, dict(took)
        time.sleep(0.3)  # the closed connections are off the worker board


# --- one database, several writers; one log -------------------------------------------------------------------


def test_concurrent_uploads_through_both_workers_all_succeed(workers: RunningServer) -> None:
    ca, domain, token = new_repository(workers, "busy")
    versions = [f"1.0.{n}" for n in range(32)]

    def publish(version: str) -> tuple[int, int, str]:
        with httpx.Client(base_url=workers.url, timeout=30) as client:
            worker = client.get("/health").json()["worker"]
            response = upload(client, domain, "busy", token, "busy-pkg", version)
        return worker, response.status_code, response.text

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(publish, versions))
    assert [(status, text) for _, status, text in results if status != 200] == []
    assert {worker for worker, _, _ in results} == {1, 2}, "both workers must have written"
    listed = ca.list_package_versions(domain=domain, repository="busy", format="pypi", package="busy-pkg")
    assert sorted(v["version"] for v in listed["versions"]) == sorted(versions)


_LOG_LINE = re.compile(
    r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \S+ "[A-Z]+ \S+ HTTP/1\.1" \d{3} \d+ \d+\.\d\dms \S+ '
    r"req=[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}( incomplete)?\n"
)


def test_the_access_log_lines_of_both_workers_are_each_written_whole(workers: RunningServer) -> None:
    start = len(workers.output)
    padding = "x" * 1200  # three lines to a write: lines of both workers meet in the pipe
    tag = f"whole{time.monotonic_ns()}"

    def hit(batch: int) -> set[int]:
        seen = set()
        with httpx.Client(base_url=workers.url, timeout=10) as client:
            for n in range(10):
                seen.add(client.get(f"/health?t={tag}&n={batch * 10 + n}&pad={padding}").json()["worker"])
        return seen

    with ThreadPoolExecutor(8) as pool:
        answered = set().union(*pool.map(hit, range(60)))
    assert answered == {1, 2}
    lines = workers.lines_after(start, lambda got: sum(tag in line for line in got) >= 600)
    ours = [line for line in lines if tag in line]
    assert len(ours) == 600
    broken = [line[:120] for line in ours if not _LOG_LINE.fullmatch(line)]
    assert broken == []
    numbers = sorted(int(re.search(r"&n=(\d+)&", line).group(1)) for line in ours)  # type: ignore[union-attr]
    assert numbers == list(range(600))


# --- the processes ------------------------------------------------------------------------------------------


def children(pid: int) -> list[int]:
    """The live child processes of ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z" and int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout:g} s: {what}")
        time.sleep(0.05)


def test_one_worker_serves_in_the_process_itself(server: RunningServer) -> None:
    assert children(server.process.pid) == []
    assert "worker" not in httpx.get(server.url + "/health").json()


def test_a_worker_that_dies_is_started_again_and_a_stop_ends_them_all(tmp_path: Path) -> None:
    with running_server(tmp_path / "data", "--workers", "2") as srv:
        on_fresh_connections(srv, lambda client: client.get("/health"))
        first = children(srv.process.pid)
        assert len(first) == WORKERS
        start = len(srv.output)
        os.kill(first[0], signal.SIGKILL)
        said = srv.lines_after(start, lambda got: any("starting it again" in line for line in got))
        restarted = [line for line in said if "starting it again" in line]
        assert re.fullmatch(
            rf"coffer: worker [12] \(pid {first[0]}\) was killed by SIGKILL while serving; starting it again in 0\.5 s\n",
            restarted[0],
        ), restarted
        wait_for(lambda: len(children(srv.process.pid)) == WORKERS, 10, "a new worker")
        on_fresh_connections(srv, lambda client: client.get("/health"))  # both serve again
        now = children(srv.process.pid)
        assert first[1] in now and first[0] not in now

        srv.process.send_signal(signal.SIGTERM)
        assert srv.process.wait(timeout=25) == 0
        assert not any(alive(pid) for pid in now)
        stopped = srv.lines_after(start, lambda got: any("Coffer stopped." in line for line in got), timeout=5)
        assert sum("Coffer stopped." in line for line in stopped) == 1  # the supervisor's, once


def test_workers_stop_when_the_supervisor_is_killed(tmp_path: Path) -> None:
    with running_server(tmp_path / "data", "--workers", "2") as srv:
        on_fresh_connections(srv, lambda client: client.get("/health"))
        pids = children(srv.process.pid)
        srv.process.kill()
        srv.process.wait(timeout=5)
        wait_for(lambda: not any(alive(pid) for pid in pids), 10, "the workers of a killed supervisor exit")
        with pytest.raises(httpx.TransportError):
            httpx.get(srv.url + "/health", timeout=2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_background_server_with_workers_is_ready_once_all_serve_and_stops_whole(tmp_path: Path) -> None:
    data, port = tmp_path / "data", free_port()
    started = subprocess.run(
        [*coffer_command(), "serve", "--background", "--workers", "2", "--port", str(port), "--data-dir", str(data)],
        capture_output=True,
        text=True,
        timeout=150,
    )
    assert started.returncode == 0, started.stderr
    record = json.loads((data / "coffer.pid").read_text())
    try:
        assert "2 worker processes" in started.stdout
        pids = children(record["pid"])
        assert len(pids) == WORKERS
        # announced once every worker served: the first requests already reach both
        seen = {httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).json()["worker"] for _ in range(60)}
        assert seen == {1, 2}
    finally:
        stopped = subprocess.run(
            [*coffer_command(), "stop", "--data-dir", str(data)], capture_output=True, text=True, timeout=60
        )
    assert stopped.returncode == 0, stopped.stderr
    assert not alive(record["pid"]) and not any(alive(pid) for pid in pids)  # `coffer stop` waited for them all
    log = (data / "coffer.log").read_text()
    assert log.count("Coffer listening on") == 1 and log.count("Coffer stopped.") == 1


# --- the supervisor on its own ----------------------------------------------------------------------------------


def supervise(body: str, timeout: float = 60) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run ``coffer.app.workers.Supervisor`` in a process of its own with the worker ``target`` defined by ``body``
    (real forks); the result and how long it ran."""
    script = "import os, sys, time\nfrom coffer.app.workers import Supervisor\n" + textwrap.dedent(body)
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=timeout)
    return result, time.monotonic() - started


def test_the_supervisor_gives_up_when_workers_keep_exiting_before_they_serve() -> None:
    result, took = supervise(
        """
        def target(link):
            print(f"worker {link.number} starting", flush=True)
            return 7
        status = Supervisor(2, target, on_ready=lambda: print("READY"), restart_delay=0.05).run()
        print(f"status {status}")
        sys.exit(status)
        """
    )
    assert result.returncode == 1
    assert "READY" not in result.stdout and result.stdout.count("worker 1 starting") <= 3
    assert re.search(
        r"coffer: worker [12] \(pid \d+\) exited with status 7 before it served, 3 times in a row: giving up, "
        r"the server stops",
        result.stderr,
    ), result.stderr
    assert "exited with status 7 before it served; starting it again in 0.05 s" in result.stderr
    assert took < 20


def test_the_supervisor_kills_a_worker_that_does_not_serve_in_time() -> None:
    result, _ = supervise(
        """
        def target(link):
            time.sleep(60)
            return 0
        sys.exit(Supervisor(1, target, start_timeout=0.3, restart_delay=0.05).run())
        """
    )
    assert result.returncode == 1
    assert "did not serve within 0.3 s and was killed before it served, 3 times in a row: giving up" in result.stderr


def test_the_supervisor_announces_once_all_serve_and_passes_a_stop_on() -> None:
    result, _ = supervise(
        """
        import signal
        def target(link):
            stop = []
            signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
            link.ready()
            while not stop:
                time.sleep(0.01)
            os.write(1, f"worker {link.number} of {link.count} stopped\\n".encode())  # one write: lines never mix
            return 0
        def ready():
            print("READY", flush=True)
            os.kill(os.getpid(), signal.SIGTERM)
        sys.exit(Supervisor(3, target, on_ready=ready).run())
        """
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "READY"
    assert sorted(lines[1:]) == [f"worker {n} of 3 stopped" for n in (1, 2, 3)]


# --- the setting ------------------------------------------------------------------------------------------------


def test_the_default_is_the_usable_cpus_at_most_four() -> None:
    expected = min(len(os.sched_getaffinity(0)), MAX_DEFAULT_WORKERS)
    assert default_workers() == expected == Settings().workers
    assert Settings.from_env({"COFFER_WORKERS": "3"}).workers == 3
    assert Settings.from_env({"COFFER_WORKERS": "3"}, workers=1).workers == 1  # the command line wins


@pytest.mark.parametrize("value", ["0", "-1", "1.5", "two", "65"])
def test_a_bad_number_of_workers_is_refused_naming_the_variable(value: str) -> None:
    with pytest.raises(SettingsError, match=r"^COFFER_WORKERS must be a whole number of worker processes \(1 to 64\)"):
        Settings.from_env({"COFFER_WORKERS": value})


def test_serve_refuses_a_bad_workers_option(tmp_path: Path) -> None:
    result = CliRunner().invoke(serve, ["--workers", "0", "--data-dir", str(tmp_path / "d")])
    assert result.exit_code == 2
    assert "Invalid value for '--workers': 0 is not in the range 1<=x<=64." in result.output
    assert not (tmp_path / "d").exists()
