"""A cheaper PBKDF2 for client secrets, so token requests do not dominate the suite's time.

Same algorithm and encoding as Django's default (`pbkdf2_sha256$<iterations>$<salt>$<hash>`),
fewer iterations. Selected by INTEROP_SECRET_HASHER=fast (the default); see settings.py.
"""

from django.contrib.auth.hashers import PBKDF2PasswordHasher


class FastPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    """PBKDF2-SHA256 at 1,000 iterations (Django 5.2's default: 1,000,000)."""

    iterations = 1_000
