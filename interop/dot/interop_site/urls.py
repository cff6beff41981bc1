"""URLs: DOT under /oauth2/, the Podero users API, and the test controls.

The users API is served in the style INTEROP_RESOURCE_STYLE selects (settings.py).
"""

from django.conf import settings
from django.urls import include, path

from partners import urls as partner_urls

urlpatterns = [
    # Everything DOT ships: token/, revoke_token/, introspect/, authorize/,
    # applications/register/ and the rest (oauth2_provider/urls.py).
    path("oauth2/", include("oauth2_provider.urls", namespace="oauth2_provider")),
    path("api/partners/v2.0/", include(partner_urls.api_patterns(settings.RESOURCE_STYLE))),
]

if settings.CONTROL:
    urlpatterns.append(path("__interop/", include(partner_urls.control_patterns)))
