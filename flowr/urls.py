"""flowr's URLs: mount with ``path("flowr/", include("flowr.urls"))``."""

from django.urls import path  # noqa: F401

app_name = "flowr"

urlpatterns: list = []
