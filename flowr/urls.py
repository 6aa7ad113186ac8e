"""flowr's URLs: mount with ``path("flowr/", include("flowr.urls"))``.

``/flowr/api/`` is the REST API (``flowr.api``); the editor pages follow,
with ``jsi18n/``: flowr's JavaScript translation catalog (Django's
``JavaScriptCatalog``, domain ``djangojs``, package ``flowr``), which the
editor pages load before their scripts.
"""

from django.urls import include, path
from django.views.i18n import JavaScriptCatalog

from flowr import views

app_name = "flowr"

urlpatterns = [
    path("api/", include("flowr.api.urls")),
    path("flows/<int:pk>/edit/", views.flow_editor, name="flow_editor"),
    path("flows/<int:pk>/compare/", views.flow_compare, name="flow_compare"),
    path("flows/<int:pk>/migrate/", views.flow_migrate, name="flow_migrate"),
    path("rule-sets/<int:pk>/graph/", views.rule_set_graph, name="rule_set_graph"),
    path("nodes/<int:pk>/edit-screen/", views.node_edit_screen, name="node_edit_screen"),
    path("jsi18n/", JavaScriptCatalog.as_view(packages=["flowr"]), name="javascript_catalog"),
]
