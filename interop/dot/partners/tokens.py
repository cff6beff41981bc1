"""Every access token in DOT's database, for the interop suite's secret scan.

Used by `manage.py list_access_tokens` and, when INTEROP_CONTROL=1, by GET /__interop/tokens.
DOT stores the raw token next to its checksum unless COMPLIANT_BCP_RFC9700_TOKEN_STORAGE is
on (oauth2_provider/models.py, set_token_value); it is off here, so the raw values are listed.
"""

from oauth2_provider.models import get_access_token_model


def all_access_tokens():
    """[{"token", "client_id", "scope", "expires"}] for every stored access token."""
    AccessToken = get_access_token_model()
    return [
        {
            "token": token.token,
            "client_id": token.application.client_id if token.application else None,
            "scope": token.scope,
            "expires": token.expires.isoformat() if token.expires else None,
        }
        for token in AccessToken.objects.select_related("application").order_by("id")
    ]
