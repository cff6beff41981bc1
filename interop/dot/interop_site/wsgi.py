"""The WSGI application (served by `manage.py serve_interop`)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "interop_site.settings")
application = get_wsgi_application()
