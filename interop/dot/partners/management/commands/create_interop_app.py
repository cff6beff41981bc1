"""manage.py create_interop_app: one confidential OAuth application, secret given in plain text.

    python manage.py create_interop_app --client-id ID --client-secret SECRET \
        [--grant client-credentials|authorization-code] [--name NAME]

DOT hashes the secret when the application is saved (ClientSecretField.pre_save,
oauth2_provider/models.py), as its registration page does. Prints the application as one JSON
line (client id, grant, name; never the secret). Unlike DOT's own `createapplication`, which
prints validation errors and exits 0, a rejected application is a CommandError (exit 1).
"""

import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from oauth2_provider.models import get_application_model

GRANTS = ("client-credentials", "authorization-code")


def create_app(client_id, client_secret, grant="client-credentials", name=None):
    """Creates and returns the application; ValidationError if DOT refuses it."""
    Application = get_application_model()
    if grant not in GRANTS:
        raise ValidationError(f"grant must be one of {', '.join(GRANTS)}")
    application = Application(
        client_id=client_id,
        client_secret=client_secret,
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=grant,
        name=name or client_id,
        # An authorization-code application needs somewhere to send the code.
        redirect_uris="https://client.example/callback" if grant == "authorization-code" else "",
        hash_client_secret=True,
    )
    application.full_clean()
    application.save()
    return application


class Command(BaseCommand):
    help = "Creates a confidential OAuth application with the given client id and secret."

    def add_arguments(self, parser):
        parser.add_argument("--client-id", required=True)
        parser.add_argument("--client-secret", required=True)
        parser.add_argument("--grant", choices=GRANTS, default="client-credentials")
        parser.add_argument("--name")

    def handle(self, *args, **options):
        try:
            application = create_app(
                options["client_id"], options["client_secret"], options["grant"], options["name"]
            )
        except ValidationError as error:
            raise CommandError(f"DOT refused the application: {error}")
        self.stdout.write(
            json.dumps(
                {
                    "client_id": application.client_id,
                    "grant": application.authorization_grant_type,
                    "name": application.name,
                    "secret_hashed": application.client_secret != options["client_secret"],
                }
            )
        )
