"""An ASGI app factory configured from ``COFFER_*`` environment variables, for running under any ASGI server.

``coffer serve`` runs the app under uvicorn itself; this module lets another server host it, e.g.::

    COFFER_DATA_DIR=./coffer-data COFFER_PORT=5080 \
        granian --interface asgi --factory coffer.app.asgi:app_from_env --host 127.0.0.1 --port 5080 --workers 1

Variables (all optional): ``COFFER_DATA_DIR``, ``COFFER_ACCOUNT_ID``, ``COFFER_REGION``, ``COFFER_DB_URL``,
``COFFER_PUBLIC_URL``, and ``COFFER_HOST``/``COFFER_PORT`` (only used to build the URL clients are told to use
when ``COFFER_PUBLIC_URL`` is unset; the ASGI server decides where it actually listens); ``COFFER_GC_INTERVAL`` and
``COFFER_GC_GRACE`` (the collection of unreferenced blobs, ``coffer.store.gc``); ``COFFER_ACCESS_LOG`` (default
on) and ``COFFER_LOG_FORMAT`` (``text`` or ``json``), Coffer's access log on stderr (``coffer.http.access_log``; turn
the ASGI server's own off, e.g. granian's ``--no-access-log``: it would log URLs with tokens in them).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from starlette.types import ASGIApp

from coffer.app.bootstrap import BootstrapError, open_data
from coffer.app.factory import create_app
from coffer.atomic_files import set_private_umask
from coffer.http.access_log import AccessLog, AccessLogWriter
from coffer.settings import DEFAULT_DATA_DIR, DEFAULT_HOST, DEFAULT_PORT, DEFAULT_REGION, Settings, env_flag
from coffer.store.gc import GcSettings

__all__ = ["app_from_env", "settings_from_env"]


def _get(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def settings_from_env(env: Mapping[str, str] | None = None) -> Settings:
    """Settings from ``COFFER_*`` variables (``os.environ`` by default); unset or empty means the default."""
    env = os.environ if env is None else env
    port = _get(env, "COFFER_PORT")
    return Settings(
        host=_get(env, "COFFER_HOST") or DEFAULT_HOST,
        port=int(port) if port is not None else DEFAULT_PORT,
        data_dir=Path(_get(env, "COFFER_DATA_DIR") or DEFAULT_DATA_DIR),
        region=_get(env, "COFFER_REGION") or DEFAULT_REGION,
        account_id=_get(env, "COFFER_ACCOUNT_ID"),
        public_url=_get(env, "COFFER_PUBLIC_URL"),
        db_url=_get(env, "COFFER_DB_URL"),
        endpoint_dns_suffix=_get(env, "COFFER_ENDPOINT_DNS_SUFFIX"),
        access_log=env_flag(env, "COFFER_ACCESS_LOG", True),
        log_format=(_get(env, "COFFER_LOG_FORMAT") or "text").lower(),
    )


def app_from_env() -> ASGIApp:
    """The Coffer ASGI app, its data directory opened (created on first start) as ``coffer serve`` would."""
    set_private_umask()  # whatever the server creates (database, its log, blobs, keys) is private to its user
    try:
        settings = settings_from_env()
        GcSettings.from_env()  # read again by the app's lifespan: refuse a bad value now, in one line
        boot = open_data(settings, create=True)
    except (BootstrapError, ValueError) as exc:
        raise SystemExit(f"coffer: {exc}") from exc
    app = create_app(settings, bound_port=None, boot=boot)
    return AccessLog(app, AccessLogWriter(settings.log_format)) if settings.access_log else app
