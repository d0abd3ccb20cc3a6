from django.contrib import admin
from django.urls import include, path

from watchfloor.web.views import admin_sign_in

urlpatterns = [
    # Before the admin site: its sign-in page is replaced (see admin_sign_in).
    path("admin/login/", admin_sign_in, name="admin-sign-in"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("watchfloor.api")),
    path("", include("watchfloor.playbooks.urls")),
    path("", include("watchfloor.signals.urls_web")),
    path("", include("watchfloor.drills.urls")),
    path("", include("watchfloor.crises.urls")),
    path("", include("watchfloor.evidence.urls")),
    path("", include("watchfloor.warning.urls")),
    path("", include("watchfloor.notify.urls")),
    path("", include("watchfloor.coordination.urls")),
    path("", include("watchfloor.banks.urls")),
    path("", include("watchfloor.people.urls")),
    path("", include("watchfloor.escalations.urls")),
    path("", include("watchfloor.people.sso.urls")),
    path("", include("watchfloor.web.urls")),
]
