"""An ASGI app factory configured from ``COFFER_*`` environment variables, for running under any ASGI server.

``coffer serve`` runs the app under uvicorn itself; this module lets another server host it, e.g.::

    COFFER_DATA_DIR=./coffer-data COFFER_PORT=5080 \
        granian --interface asgi --factory coffer.app.asgi:app_from_env --host 127.0.0.1 --port 5080 --workers 1

The variables are ``coffer serve``'s, read by the same :meth:`coffer.settings.Settings.from_env` (all optional;
``coffer.settings.ENV_VARS`` lists them). ``COFFER_HOST``/``COFFER_PORT`` only build the URL clients are told to use
when ``COFFER_PUBLIC_URL`` is unset (the ASGI server decides where it actually listens), and the HTTP limits apply
only under ``coffer serve`` (they live in its uvicorn protocol). With ``COFFER_ACCESS_LOG`` on (the default) Coffer
logs each request on stderr: turn the ASGI server's own log off (e.g. granian's ``--no-access-log``), it would log
URLs with tokens in them.
"""

from __future__ import annotations

from starlette.types import ASGIApp

from coffer.app.bootstrap import BootstrapError, open_data
from coffer.app.factory import create_app
from coffer.atomic_files import set_private_umask
from coffer.http.access_log import AccessLog, AccessLogWriter
from coffer.settings import Settings

__all__ = ["app_from_env"]


def app_from_env() -> ASGIApp:
    """The Coffer ASGI app, its data directory opened (created on first start) as ``coffer serve`` would."""
    set_private_umask()  # whatever the server creates (database, its log, blobs, keys) is private to its user
    try:
        settings = Settings.from_env()
        boot = open_data(settings, create=True)
    except (BootstrapError, ValueError) as exc:
        raise SystemExit(f"coffer: {exc}") from exc
    app = create_app(settings, bound_port=None, boot=boot)
    return AccessLog(app, AccessLogWriter(settings.log_format)) if settings.access_log else app
