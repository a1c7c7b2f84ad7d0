from __future__ import annotations

from pathlib import Path

import httpx

from tests.functional.server import running_server


def test_health_answers_json_without_authentication(tmp_path: Path) -> None:
    with running_server(tmp_path / "data") as server:
        r = httpx.get(server.url + "/health")
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/json"
        assert r.json()["status"] == "ok"


def test_ctrl_c_stops_cleanly(tmp_path: Path) -> None:
    import signal

    with running_server(tmp_path / "data") as server:
        server.process.send_signal(signal.SIGINT)
        assert server.process.wait(timeout=15) == 0
