"""The users API as DRF views: DOT's OAuth2Authentication and TokenHasReadWriteScope.

A missing, unknown, revoked or expired token gets DRF's 401 with
`WWW-Authenticate: Bearer realm="api",error="invalid_token",...` and
`{"detail": "Authentication credentials were not provided."}`.
"""

from rest_framework import generics

from .models import PartnerUser
from .serializers import UserSerializer


class _OrgUsers:
    serializer_class = UserSerializer
    # DOT's TokenHasReadWriteScope: GET needs `read`, everything else `write`.
    required_scopes = []

    def get_queryset(self):
        return PartnerUser.objects.filter(org_id=self.kwargs["org_id"])

    def get_serializer(self, *args, **kwargs):
        kwargs["org_id"] = self.kwargs["org_id"]
        return super().get_serializer(*args, **kwargs)


class UserList(_OrgUsers, generics.ListCreateAPIView):
    """GET: every user, paginated ({"count", "next", "previous", "results"}); POST: create."""


class UserDetail(_OrgUsers, generics.RetrieveUpdateDestroyAPIView):
    """GET one user; PUT changes only the fields sent (Podero documents a partial PUT); DELETE."""

    lookup_field = "id"
    lookup_url_kwarg = "user_id"

    def update(self, request, *args, **kwargs):
        kwargs["partial"] = True
        return super().update(request, *args, **kwargs)
