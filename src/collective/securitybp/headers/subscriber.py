"""The response header subscriber (the hot path).

Subscribed to ``IPubBeforeCommit`` and ``IPubBeforeAbort``, so it sees every
response Zope publishes: pages, redirects, error pages, downloads, REST
JSON. It reads nothing but the cached settings snapshot, adds the headers a
view has not set, and never raises.
"""

from collective.securitybp.headers.policy import compile_plan
from collective.securitybp.headers.policy import log_once
from collective.securitybp.headers.policy import REPLACEABLE_DEFAULTS
from collective.securitybp.interfaces import IBrowserLayer
from collective.securitybp.settings import get_settings
from collective.securitybp.settings import SettingsSnapshot
from zope.component.hooks import getSite


PLAN_KEY = "headers.plan"

# Sites (physical paths) seen answering over HTTPS in this process; the HSTS
# check reads it, as the audit itself may run without a request.
HTTPS_SITES = set()


def _default_plan():
    """The plan of the schema defaults, for when compiling fails."""
    from collective.securitybp.interfaces import IHeaderSettings
    from zope.schema import getFields

    defaults = {name: f.default for name, f in getFields(IHeaderSettings).items()}
    return compile_plan(SettingsSnapshot(None, defaults))


def _compile(snapshot):
    try:
        return compile_plan(snapshot)
    except Exception:
        log_once(
            ("compile",),
            "Cannot build the security headers from the settings; sending "
            "the defaults. Check the 'Security headers' settings.",
            exc_info=True,
        )
        return _default_plan()


def plan_for(site):
    """The :class:`~collective.securitybp.headers.policy.HeaderPlan` of
    ``site``, compiled once per settings change."""
    return get_settings(site).derived(PLAN_KEY, _compile)


def add_security_headers(event):
    """Add the configured security headers to the response of ``event``.

    Only for requests in a site where the add-on is installed (its browser
    layer); not for a request Zope is about to retry. A header already set
    is left alone, except plone.protect's default X-Frame-Options, which a
    configured value replaces.
    """
    request = event.request
    if not IBrowserLayer.providedBy(request) or getattr(event, "retry", False):
        return
    try:
        site = getSite()
        plan = get_settings(site).derived(PLAN_KEY, _compile)
        if not plan.enabled:
            return
        other = request.other
        https = other.get("SERVER_URL", "").startswith("https:")
        variant = plan.variant(other.get("URL", "")) if plan.relaxed else None
        headers = plan.headers_for(https, plan.site_path(site, request), variant)
        # Names are lower-case tokens and every value is one HTTP can carry
        # (visible ASCII, space, tab): headers_for lets nothing else through
        # (policy.sendable, checked once per cached tuple), whatever the
        # registry holds. So this is what response.setHeader would store,
        # without its per-call work, and the server can always encode it.
        current = request.response.headers
        for key, value in headers:
            existing = current.get(key)
            if existing is None or existing == REPLACEABLE_DEFAULTS.get(key):
                current[key] = value
        if https and not plan.seen_https:
            plan.seen_https = True
            HTTPS_SITES.add(site.getPhysicalPath())
    except Exception:
        log_once(
            ("subscriber",),
            "Cannot add the security headers to a response; it goes out "
            "without them. Further errors of this kind are not logged.",
            exc_info=True,
        )
