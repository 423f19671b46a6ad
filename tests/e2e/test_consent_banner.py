"""The demo shop's consent panel in headless Chromium: per-purpose boxes, nothing pre-ticked, changeable later,
and the choices land in the server's consent ledger."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import Server


def _ledger(server: Server, aid: str) -> dict[str, bool]:
    privacy = server.container.privacy
    assert privacy is not None
    pid = privacy.pseudonymise(aid)  # the consent API stores the browser's choices under its pseudonym
    privacy.invalidate(pid)
    return {p: d["allowed"] for p, d in privacy.consent(pid).items() if d["needs_consent"]}


def test_per_purpose_choices_nothing_preticked_and_changeable(server: Server, browser: Any) -> None:
    ctx = browser.new_context()
    page = ctx.new_page()
    page.goto(server.base_url + "/shop")
    aid = page.evaluate("fitloop.anonymousId()")
    page.click("#consent-choose")
    page.wait_for_selector("#flc-panel")
    boxes = page.eval_on_selector_all("#flc-panel input[data-purpose]",
                                      "els => els.map(e => [e.dataset.purpose, e.checked])")
    assert boxes and not any(checked for _, checked in boxes)  # nothing pre-ticked
    assert {"photo_analysis", "location"} <= {p for p, _ in boxes}
    assert "SENSITIVE" in page.inner_text("#flc-panel").upper()
    page.check("#flc-analytics")
    page.check("#flc-personalisation")
    page.click("#flc-save")
    page.wait_for_timeout(800)
    state = _ledger(server, aid)
    assert state["analytics"] and state["personalisation"] and not state["location"]
    # Change later, from the "Privacy choices" button that stays on every page.
    page.goto(server.base_url + "/shop")
    page.click("#flc-open")
    page.wait_for_selector("#flc-panel")
    assert page.is_checked("#flc-personalisation")
    page.uncheck("#flc-personalisation")
    page.click("#flc-save")
    page.wait_for_timeout(800)
    state = _ledger(server, aid)
    assert state["analytics"] and not state["personalisation"]
    ctx.close()
