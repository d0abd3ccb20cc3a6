from django.urls import path

from watchfloor.people.sso.config import CALLBACK_URL_NAME
from watchfloor.people.sso.views import SSOCallbackView, SSOStartView

urlpatterns = [
    path("sso/start/", SSOStartView.as_view(), name="sso-start"),
    path("sso/callback/", SSOCallbackView.as_view(), name=CALLBACK_URL_NAME),
]
