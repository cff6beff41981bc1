"""The users API as plain Django views on DOT's ProtectedResourceView family.

`ReadWriteScopedResourceView` (oauth2_provider/views/generic.py) is a ProtectedResourceView
that asks for `read` on GET and `write` otherwise. A missing, unknown, revoked or expired
token gets what ProtectedResourceMixin.dispatch answers: `unauthenticated_response`, a bare
`HttpResponseForbidden()` (403, empty body, no WWW-Authenticate; views/mixins.py).
Bodies and errors otherwise match the DRF style: same serializer, same envelope.
"""

import json

from django.http import HttpResponse, JsonResponse
from django.conf import settings
from oauth2_provider.views.generic import ReadWriteScopedResourceView

from .models import PartnerUser
from .pages import paginate
from .serializers import UserSerializer


def _json_body(request):
    """(data, None) or (None, a 400 response), as DRF's JSONParser answers."""
    try:
        return json.loads(request.body.decode("utf-8") or "null"), None
    except (UnicodeDecodeError, ValueError) as error:
        return None, JsonResponse({"detail": f"JSON parse error - {error}"}, status=400)


def _not_found():
    return JsonResponse({"detail": "No PartnerUser matches the given query."}, status=404)


class UserList(ReadWriteScopedResourceView):
    def get(self, request, org_id):
        users, envelope = paginate(
            request, PartnerUser.objects.filter(org_id=org_id), settings.PAGE_SIZE
        )
        return JsonResponse(envelope(UserSerializer(users, many=True).data))

    def post(self, request, org_id):
        data, error = _json_body(request)
        if error:
            return error
        serializer = UserSerializer(data=data, org_id=org_id)
        if not serializer.is_valid():
            return JsonResponse(serializer.errors, status=400)
        serializer.save()
        return JsonResponse(serializer.data, status=201)


class UserDetail(ReadWriteScopedResourceView):
    def _user(self, org_id, user_id):
        return PartnerUser.objects.filter(org_id=org_id, id=user_id).first()

    def get(self, request, org_id, user_id):
        user = self._user(org_id, user_id)
        if user is None:
            return _not_found()
        return JsonResponse(UserSerializer(user).data)

    def put(self, request, org_id, user_id):
        user = self._user(org_id, user_id)
        if user is None:
            return _not_found()
        data, error = _json_body(request)
        if error:
            return error
        serializer = UserSerializer(user, data=data, partial=True, org_id=org_id)
        if not serializer.is_valid():
            return JsonResponse(serializer.errors, status=400)
        serializer.save()
        return JsonResponse(serializer.data)

    def delete(self, request, org_id, user_id):
        user = self._user(org_id, user_id)
        if user is None:
            return _not_found()
        user.delete()
        return HttpResponse(status=204)
