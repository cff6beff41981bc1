"""The Django project of the DOT interop server: settings, URLs, WSGI entry point."""
