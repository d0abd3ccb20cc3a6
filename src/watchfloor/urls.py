from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("watchfloor.api")),
    path("", include("watchfloor.playbooks.urls")),
    path("", include("watchfloor.web.urls")),
]
