from django.contrib import admin
from django.urls import include, path

from sample_site import views

urlpatterns = [
    path("", views.front, name="front"),
    path("admin/", admin.site.urls),
    path("flowr/", include("flowr.urls")),
]
