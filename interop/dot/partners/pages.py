"""DRF's PageNumberPagination envelope, for the views that are not DRF views."""

from django.core.paginator import InvalidPage, Paginator
from django.http import Http404
from rest_framework.utils.urls import remove_query_param, replace_query_param


def paginate(request, queryset, page_size):
    """(users on the requested page, a function turning their data into the envelope)."""
    paginator = Paginator(queryset, page_size)
    try:
        page = paginator.page(request.GET.get("page", 1))
    except InvalidPage:
        raise Http404("Invalid page.")
    url = request.build_absolute_uri()

    def envelope(results):
        following = None
        if page.has_next():
            following = replace_query_param(url, "page", page.next_page_number())
        previous = None
        if page.has_previous():
            number = page.previous_page_number()
            previous = (
                remove_query_param(url, "page")
                if number == 1
                else replace_query_param(url, "page", number)
            )
        return {
            "count": paginator.count,
            "next": following,
            "previous": previous,
            "results": results,
        }

    return page.object_list, envelope
