"""The security contact: ``/.well-known/security.txt`` (RFC 9116).

The control panel's "Security contact" settings (``securitytxt_*``) say
where vulnerabilities are reported; when a contact is set, the site serves
them as ``/.well-known/security.txt`` (see :mod:`browser.securitytxt`). With
virtual hosting the site is the root of its host, so that is the address
RFC 9116 asks for.

Another add-on may already serve the file (a ``.well-known`` view of its
own): then the add-on serves nothing itself, and SBP-CONF-018 checks what
that add-on publishes.
"""

from collective.securitybp import _
from collective.securitybp.exc import InvalidSetting
from datetime import datetime
from datetime import time
from datetime import timezone
from plone.registry.interfaces import IRegistry
from zope.component import getGlobalSiteManager
from zope.component import getSiteManager
from zope.component import queryUtility
import re


PREFIX = "collective.securitybp.securitytxt_"
WELL_KNOWN = ".well-known"
FILE_NAME = "security.txt"
PATH = f"/{WELL_KNOWN}/{FILE_NAME}"
EXPIRY_WARNING_DAYS = 30
CONTACT_SCHEMES = ("mailto:", "https://", "tel:")
LANGUAGE_TAG = re.compile(r"^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$")
FIELD_LINE = re.compile(r"^([A-Za-z0-9-]+):\s*(.*?)\s*$")


def _plain(value):
    """One line of printable text without spaces."""
    return bool(value) and not any(char.isspace() or ord(char) < 32 for char in value)


def valid_https(value):
    return _plain(value) and value.lower().startswith("https://") and len(value) > 8


def valid_contact(value):
    value = (value or "").strip()
    if not _plain(value):
        return False
    lower = value.lower()
    if lower.startswith("https://"):
        return valid_https(value)
    if lower.startswith("mailto:"):
        return "@" in value[7:]
    if lower.startswith("tel:"):
        return len(value) > 4
    return False


def valid_languages(value):
    tags = [tag.strip() for tag in value.split(",")]
    return all(LANGUAGE_TAG.match(tag) for tag in tags)


def expiry_invariant(data):
    """A contact needs an expiry date: RFC 9116 requires ``Expires``.

    :raises zope.interface.Invalid: saying what to enter.
    """
    from collective.securitybp.zmi.config import form_value

    contacts = form_value(data, "securitytxt_contact") or []
    if [c for c in contacts if c and c.strip()] and not form_value(
        data, "securitytxt_expires"
    ):
        raise InvalidSetting(
            _(
                "error_securitytxt_expires",
                default="Enter the date until which the security contact is "
                "valid: security.txt must say when it expires (RFC 9116).",
            )
        )


def settings(site):
    """The security contact settings of ``site`` (names without prefix)."""
    registry = queryUtility(IRegistry, context=site)
    values = {}
    for name in ("contact", "expires", "policy", "acknowledgments", "languages"):
        try:
            values[name] = registry.get(PREFIX + name) if registry else None
        except Exception:  # a broken record counts as unset
            values[name] = None
    return values


def expires_at(day):
    """The end of ``day`` in UTC: the instant security.txt expires."""
    return datetime.combine(day, time(23, 59, 59), tzinfo=timezone.utc)


def render(values, canonical=None):
    """security.txt for the settings ``values``, or None without a contact.

    :param values: from :func:`settings`.
    :param canonical: the file's public address, for ``Canonical``.
    """
    contacts = [c.strip() for c in values.get("contact") or () if c and c.strip()]
    if not contacts:
        return None
    lines = [f"Contact: {contact}" for contact in contacts]
    if values.get("expires"):
        stamp = expires_at(values["expires"]).strftime("%Y-%m-%dT%H:%M:%SZ")
        lines.append(f"Expires: {stamp}")
    if values.get("languages"):
        tags = ", ".join(t.strip() for t in values["languages"].split(",") if t.strip())
        lines.append(f"Preferred-Languages: {tags}")
    if values.get("policy"):
        lines.append(f"Policy: {values['policy'].strip()}")
    if values.get("acknowledgments"):
        lines.append(f"Acknowledgments: {values['acknowledgments'].strip()}")
    if canonical:
        lines.append(f"Canonical: {canonical}")
    return "\n".join(lines) + "\n"


def parse(text):
    """The fields of security.txt ``text``: lower-case name -> values.

    Comments, blank lines and the lines of an OpenPGP signature are skipped.
    """
    fields = {}
    for line in (text or "").splitlines():
        if line.startswith("#") or line.startswith("-----"):
            continue
        match = FIELD_LINE.match(line)
        if match:
            fields.setdefault(match.group(1).lower(), []).append(match.group(2))
    return fields


def parse_expires(value):
    """The ``Expires`` value as a timezone-aware datetime, or None."""
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return None
    return parsed if parsed.tzinfo else None


def _registrations(site):
    managers = [getGlobalSiteManager()]
    local = getSiteManager(site)
    if local is not managers[0]:
        managers.insert(0, local)
    for manager in managers:
        yield from manager.registeredAdapters()


def other_provider(site, request):
    """The ``.well-known`` view another add-on registered for ``site`` and
    ``request``, or None."""
    from collective.securitybp.browser.securitytxt import WellKnownView

    for registration in _registrations(site):
        if registration.name != WELL_KNOWN or len(registration.required) != 2:
            continue
        factory = registration.factory
        if WellKnownView in getattr(factory, "__mro__", ()):
            continue
        site_spec, layer = registration.required
        if site_spec.providedBy(site) and layer.providedBy(request):
            return factory
    return None


def published(site, request):
    """What ``/.well-known/security.txt`` of ``site`` says, and who says it.

    :returns: ``(text, provider)``: provider is ``"securitybp"`` (this
        add-on's settings), ``"other"`` (another add-on's view), or None
        when nothing is published (text is None then).
    """
    factory = other_provider(site, request) if request is not None else None
    if factory is not None:
        try:
            view = factory(site, request)
            page = view.publishTraverse(request, FILE_NAME)
            text = page()
        except Exception:  # what it cannot render, it does not publish
            return None, "other"
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        return (text or None), "other"
    canonical = None
    if request is not None:
        try:
            canonical = site.absolute_url() + PATH
        except Exception:  # no usable request: leave Canonical out
            canonical = None
    text = render(settings(site), canonical)
    return text, ("securitybp" if text else None)
