"""manage.py list_access_tokens: every access token in the database, as a JSON array.

    INTEROP_DATA_DIR=/path/to/server/dir python manage.py list_access_tokens

Each entry: token, client_id, scope, expires. For the interop suite's secret scan (every
token DOT holds must be absent from the CLI's output); see partners/tokens.py.
"""

import json

from django.core.management.base import BaseCommand

from partners.tokens import all_access_tokens


class Command(BaseCommand):
    help = "Prints every access token in DOT's database as a JSON array."

    def handle(self, *args, **options):
        self.stdout.write(json.dumps(all_access_tokens()))
