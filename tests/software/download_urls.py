"""A bare URLconf that serves software the way the DDI artifact view does."""

from django.shortcuts import get_object_or_404
from django.urls import path

from software.downloads import serve_artifact, serve_md5sum
from software.models import Software


def _package(pk):
    return get_object_or_404(Software, pk=pk).package


def artifact(request, pk):
    return serve_artifact(request, _package(pk))


def md5sum(request, pk):
    return serve_md5sum(request, _package(pk))


urlpatterns = [
    path("artifact/<int:pk>", artifact),
    path("artifact/<int:pk>.MD5SUM", md5sum),
]
