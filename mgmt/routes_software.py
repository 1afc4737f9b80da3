"""/rest/v1 routes of the software resources (included by mgmt.urls into the ``mgmt`` namespace)."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
