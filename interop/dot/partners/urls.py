"""The users API's routes (Podero's paths: no trailing slash) and the test controls."""

from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from . import views_control, views_drf, views_protected


def api_patterns(style):
    """Routes for INTEROP_RESOURCE_STYLE `drf` or `protected`."""
    views = {"drf": views_drf, "protected": views_protected}[style]
    return [
        path(
            "org/<uuid:org_id>/users",
            csrf_exempt(views.UserList.as_view()),
            name="users",
        ),
        path(
            "org/<uuid:org_id>/users/<uuid:user_id>",
            csrf_exempt(views.UserDetail.as_view()),
            name="user",
        ),
    ]


control_patterns = [
    path("tokens", views_control.tokens, name="interop-tokens"),
    path("apps", views_control.apps, name="interop-apps"),
]
