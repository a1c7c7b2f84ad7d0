"""The AWS SDK for JavaScript v3, unmodified, against Coffer (installed from the npm registry on first use)."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.functional.conftest import ACCOUNT, read_profile

JS_DIR = Path(__file__).resolve().parent.parent / "js"
SDK_DIR = Path(__file__).resolve().parents[2] / ".venv" / "js-sdk"  # kept beside the venv between runs


def _sdk() -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js and npm are needed for the JavaScript SDK test")
    marker = SDK_DIR / "node_modules" / "@aws-sdk" / "client-codeartifact" / "package.json"
    if not marker.exists():
        SDK_DIR.mkdir(parents=True, exist_ok=True)
        (SDK_DIR / "package.json").write_text('{"private": true, "type": "module"}')
        r = subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--silent", "@aws-sdk/client-codeartifact@3"],
            cwd=SDK_DIR,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if r.returncode != 0:
            pytest.fail(f"npm install @aws-sdk/client-codeartifact failed:\n{r.stderr}")
    shutil.copy(JS_DIR / "codeartifact_flow.mjs", SDK_DIR / "codeartifact_flow.mjs")
    return SDK_DIR


def test_aws_sdk_for_javascript(server: Any) -> None:
    sdk = _sdk()
    access, secret = read_profile(server.credentials_file)
    domain = f"js-{int(time.time() * 1000) % 10**9}"
    r = subprocess.run(
        ["node", "codeartifact_flow.mjs", server.url, access, secret, domain],
        cwd=sdk,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["domain"] == domain
    assert 0 < out["tokenLength"] <= 1000
    expiration = datetime.fromisoformat(out["expiration"].replace("Z", "+00:00")).timestamp()
    assert abs(expiration - (time.time() + 900)) < 30
    assert out["endpoint"] == f"{server.url}/pypi/d/{domain}-{ACCOUNT}/internal/"
    assert out["npmEndpoint"] == f"{server.url}/npm/d/{domain}-{ACCOUNT}/internal/"
    assert out["mavenEndpointError"] == (
        "ValidationException: Coffer does not serve the maven format yet; only npm, pypi repositories can be used "
        "by package clients"
    )
    assert out["errorName"] == "ValidationException"
    assert out["errorStatus"] == 400
    assert "Member must have value less than or equal to 43200" in out["durationError"]
