"""manage.py serve_interop: migrate, create the applications, serve, say when ready.

    INTEROP_DATA_DIR=$(mktemp -d) python manage.py serve_interop [--port 0] [--watch-stdin]

1. Migrates the SQLite database in INTEROP_DATA_DIR. With --template-dir, a database migrated
   once is kept there (named by a hash of the migrations and package versions) and copied,
   which saves about two seconds per server; `migrate` still runs on the copy (a no-op).
2. Creates three confidential applications:
   - `client`: client-credentials, generated id and secret (DOT's generators);
   - `special`: client-credentials, generated id, the secret `a b:c+d/e=f%&é` (every
     character that form- or percent-encoding must escape, and a non-ASCII one);
   - `authcode`: authorization-code only (the token endpoint answers `unauthorized_client`).
3. Serves on 127.0.0.1:PORT (0: a free port the OS picks, so parallel servers never collide)
   with Django's threaded development server classes (runserver's, without its autoreloader).
4. Prints one line on stdout, then nothing more:
   `INTEROP-DOT-READY {"base_url": ..., "port": ..., "apps": {name: {client_id, client_secret,
   grant}}, "backend": ..., "resource_style": ..., "token_seconds": ..., "page_size": ...,
   "startup_seconds": ...}`

With --watch-stdin the server exits (removing INTEROP_DATA_DIR with --delete-data-dir) when
its standard input closes, so a test process that dies never leaves a server behind.
"""

import hashlib
import json
import os
import shutil
import sys
import threading
import time

import django
import oauth2_provider
from django.conf import settings
from django.core.management import call_command
from django.db import connections
from django.db.migrations.loader import MigrationLoader
from django.core.management.base import BaseCommand
from django.core.servers.basehttp import (
    ThreadedWSGIServer,
    WSGIRequestHandler,
    get_internal_wsgi_application,
)
from oauth2_provider.generators import generate_client_id, generate_client_secret

from .create_interop_app import create_app

READY = "INTEROP-DOT-READY"
SPECIAL_SECRET = "a b:c+d/e=f%&é"


class Command(BaseCommand):
    help = "Migrates, creates the interop applications and serves until stopped."
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=0, help="0: any free port")
        parser.add_argument(
            "--template-dir", help="keep a migrated template database here and copy it"
        )
        parser.add_argument("--watch-stdin", action="store_true", help="exit when stdin closes")
        parser.add_argument(
            "--delete-data-dir", action="store_true", help="with --watch-stdin: remove it on exit"
        )

    def handle(self, *args, **options):
        started = time.monotonic()
        settings.DATA_DIR.mkdir(parents=True, exist_ok=True)
        _migrate(options["template_dir"])
        apps = {}
        for name, grant, secret in (
            ("client", "client-credentials", generate_client_secret()),
            ("special", "client-credentials", SPECIAL_SECRET),
            ("authcode", "authorization-code", generate_client_secret()),
        ):
            application = create_app(generate_client_id(), secret, grant, f"interop-{name}")
            apps[name] = {
                "client_id": application.client_id,
                "client_secret": secret,
                "grant": grant,
            }

        httpd = ThreadedWSGIServer((options["host"], options["port"]), WSGIRequestHandler)
        httpd.set_app(get_internal_wsgi_application())
        host, port = httpd.server_address[:2]
        if options["watch_stdin"]:
            threading.Thread(
                target=_exit_when_stdin_closes,
                args=(settings.DATA_DIR if options["delete_data_dir"] else None,),
                daemon=True,
            ).start()
        ready = {
            "base_url": f"http://{host}:{port}",
            "port": port,
            "apps": apps,
            "backend": settings.BACKEND,
            "resource_style": settings.RESOURCE_STYLE,
            "token_seconds": settings.TOKEN_SECONDS,
            "page_size": settings.PAGE_SIZE,
            "startup_seconds": round(time.monotonic() - started, 3),
        }
        sys.stdout.write(f"{READY} {json.dumps(ready)}\n")
        sys.stdout.flush()
        httpd.serve_forever()


def _migrate(template_dir):
    """Migrates the server's database, from a template copy when there is one."""
    database = settings.DATABASES["default"]["NAME"]
    template = None
    if template_dir:
        template = os.path.join(template_dir, f"template-{_schema_key()}.sqlite3")
        if os.path.exists(template):
            shutil.copyfile(template, database)
    call_command("migrate", verbosity=0, interactive=False)
    if template and not os.path.exists(template):
        # Close first: SQLite then folds its write-ahead log into the database file.
        connections.close_all()
        os.makedirs(template_dir, exist_ok=True)
        partial = f"{template}.{os.getpid()}.tmp"
        shutil.copyfile(database, partial)
        # Atomic: parallel servers that both built a template publish identical files.
        os.replace(partial, template)


def _schema_key():
    """A hash of what decides the schema: package versions and every migration on disk."""
    digest = hashlib.sha256(f"{django.__version__} {oauth2_provider.__version__}".encode())
    loader = MigrationLoader(None, ignore_no_migrations=True)
    for key in sorted(loader.disk_migrations):
        module = sys.modules[type(loader.disk_migrations[key]).__module__]
        digest.update(repr(key).encode())
        with open(module.__file__, "rb") as source:
            digest.update(source.read())
    return digest.hexdigest()[:16]


def _exit_when_stdin_closes(data_dir):
    while sys.stdin.buffer.read(4096):
        pass
    if data_dir is not None:
        shutil.rmtree(data_dir, ignore_errors=True)
    os._exit(0)
