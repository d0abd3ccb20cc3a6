"""An official tsunami warning in the browser: the escalation it opened shows the crisis
proposal, at desktop and phone sizes, and declaring it opens the crisis with its
watchlist."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.e2e.conftest import sign_in
from tests.e2e.test_glance import SIZES, _fits, _shots
from watchfloor.people.demo_accounts import DEMO_PASSWORD

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.slow]
pytest.importorskip("lxml")

DEFAULTS = Path(__file__).parents[2] / "src" / "watchfloor" / "defaults"
WARNING = b"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>TO-E2E-1</identifier><sender>http://newwcatwc.arh.noaa.gov/tsuPortal/</sender>
  <sent>2026-11-24T00:10:00+00:00</sent><status>Actual</status><msgType>Alert</msgType>
  <scope>Public</scope>
  <info><category>Geo</category><event>Tsunami Warning</event><urgency>Immediate</urgency>
    <severity>Extreme</severity><certainty>Observed</certainty>
    <headline>Tsunami warning for Tonga after a magnitude 7.8 earthquake</headline>
    <description>Waves of 1 to 3 metres are expected on Tongatapu within the hour.</description>
    <area><areaDesc>Tongatapu and Ha'apai</areaDesc><circle>-21.2,-175.2 80</circle></area>
  </info>
</alert>"""


@pytest.mark.parametrize("size", SIZES)
def test_the_warning_proposes_a_crisis(
    live_server, demo_day, chromium, tmp_path, size, monkeypatch
):
    from watchfloor.escalations.models import Escalation
    from watchfloor.signals import backlog
    from watchfloor.warning.services import receive_cap_document

    monkeypatch.setenv("WATCHFLOOR_SIGNAL_RULES", str(DEFAULTS / "signal_rules.yaml"))
    monkeypatch.setenv("WATCHFLOOR_CAP_SENDERS", str(DEFAULTS / "cap_senders.yaml"))
    receive_cap_document(raw=WARNING, actor=None)
    backlog.drain(worker="test")
    escalation = Escalation.objects.get(type__code="natural_disaster")

    page = chromium.new_page(viewport=SIZES[size])
    sign_in(page, live_server.url, "lead", DEMO_PASSWORD)
    page.goto(f"{live_server.url}/escalations/{escalation.pk}/#warning")
    panel = page.locator("#warning")
    assert "Tsunami Warning (TO)" in panel.inner_text()
    assert "peau kula" in panel.inner_text()
    panel.scroll_into_view_if_needed()
    page.screenshot(path=str(_shots(tmp_path) / f"warning-proposal-{size}.png"), full_page=False)
    _fits(page, SIZES[size]["width"])

    if size == "desktop":
        panel.get_by_role("button", name="Declare this crisis").click()
        page.wait_for_url("**/crises/*/")
        assert "Tsunami Warning (TO)" in page.locator("h1").inner_text()
