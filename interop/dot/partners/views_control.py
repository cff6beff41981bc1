"""Test controls, mounted under /__interop/ only when INTEROP_CONTROL=1 (never by default).

- GET /__interop/tokens: every access token in the database (see tokens.py), so a test can
  scan output for all of them without starting a Python process per scan.
- POST /__interop/apps `{"grant": "client-credentials"}`: a new confidential application with
  generated credentials, answered as `{"client_id", "client_secret", "grant"}`, so tests that
  share a server can count the tokens of their own client.
"""

import json

from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST
from oauth2_provider.generators import generate_client_id, generate_client_secret

from .management.commands.create_interop_app import GRANTS, create_app
from .tokens import all_access_tokens


@require_GET
def tokens(request):
    return JsonResponse(all_access_tokens(), safe=False)


@csrf_exempt
@require_POST
def apps(request):
    try:
        spec = json.loads(request.body.decode("utf-8") or "{}")
    except (UnicodeDecodeError, ValueError):
        return JsonResponse({"detail": "expected a JSON object"}, status=400)
    grant = spec.get("grant", "client-credentials") if isinstance(spec, dict) else None
    if grant not in GRANTS:
        return JsonResponse({"grant": [f"one of {', '.join(GRANTS)}"]}, status=400)
    secret = spec.get("client_secret") or generate_client_secret()
    try:
        application = create_app(generate_client_id(), secret, grant)
    except ValidationError as error:
        return JsonResponse({"detail": str(error)}, status=400)
    return JsonResponse(
        {"client_id": application.client_id, "client_secret": secret, "grant": grant},
        status=201,
    )
