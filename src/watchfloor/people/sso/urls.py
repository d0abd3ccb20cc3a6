from django.urls import path

from watchfloor.people.sso.config import CALLBACK_URL_NAME
from watchfloor.people.sso.views import SSOCallbackView, SSOStartView, only_with_sso

urlpatterns = [
    path("sso/start/", only_with_sso(SSOStartView.as_view()), name="sso-start"),
    path("sso/callback/", only_with_sso(SSOCallbackView.as_view()), name=CALLBACK_URL_NAME),
]
