"""URLs of the benchmark project: the admin, and flowr's URLs (API)."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("flowr/", include("flowr.urls")),
]
