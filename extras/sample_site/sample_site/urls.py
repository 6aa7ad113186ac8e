from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from sample_site import views

urlpatterns = [
    path("", views.front, name="front"),
    path("favicon.ico", RedirectView.as_view(url=static("sample_site/favicon.svg"), permanent=True)),
    path("admin/", admin.site.urls),
    path("flowr/", include("flowr.urls")),
]
