"""What the header subscriber sends: presets, CSP grammar, the compiled plan.

Everything here is computed once per settings change: :func:`compile_plan`
turns a :class:`~collective.securitybp.settings.SettingsSnapshot` into a
:class:`HeaderPlan`, which the subscriber asks for the headers of a response.
The validators used by the control panel (``IHeaderSettings``) live here too,
so that the form, the REST API and the hot path share one grammar.
"""

from collective.securitybp import _
from collective.securitybp import logger
from collective.securitybp.exc import InvalidSetting
from urllib.parse import quote
from zope.schema.vocabulary import SimpleTerm
from zope.schema.vocabulary import SimpleVocabulary
import re
import threading


MAX_VALUE_LENGTH = 4096
# All the header overrides and the custom policy together, as sent: with the
# preset's own headers and Zope's, a response's headers stay well under the
# 16 KiB many proxies and browsers accept.
MAX_TOTAL_LENGTH = 8192
# HSTS: the MDN Observatory's minimum, and what the preload list requires.
HSTS_MIN_MAX_AGE = 15768000
HSTS_PRELOAD_MIN_MAX_AGE = 31536000
REPORT_VIEW = "@@csp-report"
REPORT_GROUP = "securitybp-csp"

PRESET_VOCABULARY = SimpleVocabulary(
    [
        SimpleTerm("compatible", title=_("Compatible")),
        SimpleTerm("strict", title=_("Strict")),
        SimpleTerm("off", title=_("Off")),
    ]
)
CSP_MODE_VOCABULARY = SimpleVocabulary(
    [
        SimpleTerm("preset", title=_("As the preset says")),
        SimpleTerm("report-only", title=_("Report only")),
        SimpleTerm("enforce", title=_("Enforce")),
        SimpleTerm("off", title=_("Not sent")),
    ]
)
CSP_HEADER = "Content-Security-Policy"
CSP_REPORT_ONLY_HEADER = "Content-Security-Policy-Report-Only"

# Powerful features nobody needs on a Plone site; every name is one Chromium
# recognises (an unknown one is a console warning). Left out on purpose:
# fullscreen, autoplay and encrypted-media (embedded videos), and the
# WebAuthn / FedCM features that login add-ons may use.
DENIED_FEATURES = (
    "accelerometer",
    "browsing-topics",
    "camera",
    "display-capture",
    "gamepad",
    "geolocation",
    "gyroscope",
    "hid",
    "idle-detection",
    "local-fonts",
    "magnetometer",
    "microphone",
    "midi",
    "payment",
    "screen-wake-lock",
    "serial",
    "speaker-selection",
    "usb",
    "window-management",
    "xr-spatial-tracking",
)
PERMISSIONS_POLICY = ", ".join(f"{feature}=()" for feature in DENIED_FEATURES)

# The headers of each preset, in the order they are sent. X-XSS-Protection is
# "0": the old "1; mode=block" let pages be probed cross-site (XS-leaks) and
# browsers have removed the auditor it switched on.
PRESET_HEADERS = {
    "off": (),
    "compatible": (
        ("X-Frame-Options", "SAMEORIGIN"),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "strict-origin-when-cross-origin"),
        ("Permissions-Policy", PERMISSIONS_POLICY),
        ("Cross-Origin-Opener-Policy", "same-origin-allow-popups"),
        ("Cross-Origin-Resource-Policy", "same-site"),
        ("X-XSS-Protection", "0"),
    ),
    "strict": (
        ("X-Frame-Options", "SAMEORIGIN"),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "strict-origin-when-cross-origin"),
        ("Permissions-Policy", PERMISSIONS_POLICY),
        ("Cross-Origin-Opener-Policy", "same-origin"),
        ("Cross-Origin-Resource-Policy", "same-origin"),
        ("X-XSS-Protection", "0"),
    ),
}
# Headers whose absence the audit reports (SBP-HEADER-001).
ESSENTIAL_HEADERS = frozenset(
    {
        "x-frame-options",
        "x-content-type-options",
        "referrer-policy",
        "permissions-policy",
        "cross-origin-opener-policy",
        "cross-origin-resource-policy",
    }
)

# The best-practices document's policy, tightened: no plugins, no <base>
# hijacking, forms and framing only from the site itself.
COMPATIBLE_CSP = (
    "default-src 'self'; "
    "script-src 'self' 'unsafe-inline' 'unsafe-eval'; "
    "style-src 'self' 'unsafe-inline' *; "
    "img-src 'self' data: *; "
    "font-src 'self' data: *; "
    "object-src 'none'; "
    "base-uri 'self'; "
    "form-action 'self'; "
    "frame-ancestors 'self'"
)
# As tight as the classic UI allows (measured in Chromium, see README):
# scripts only from the site, inline styles allowed (TinyMCE and the
# patterns set them), with per-page relaxations below.
STRICT_CSP = (
    "default-src 'self'; "
    "script-src 'self'; "
    "style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; "
    "font-src 'self' data:; "
    "connect-src 'self'; "
    "object-src 'none'; "
    "base-uri 'self'; "
    "form-action 'self'; "
    "frame-ancestors 'self'"
)
PRESET_CSP = {
    "off": (None, None),
    "compatible": ("report-only", COMPATIBLE_CSP),
    "strict": ("enforce", STRICT_CSP),
}
# Pages of Plone and Zope that need more than the strict policy gives, by the
# last segment of the published URL: folder contents evaluates a string, the
# resource registry control panel has an inline script, and the Zope
# management screens (manage, manage_main, ...) inline scripts and handlers.
STRICT_RELAXATIONS = (
    (frozenset({"folder_contents", "@@folder_contents"}), "'unsafe-eval'"),
    (
        frozenset({"resourceregistry-controlpanel", "@@resourceregistry-controlpanel"}),
        "'unsafe-inline'",
    ),
)
ZMI_PREFIX = "manage_"
ZMI_RELAXATION = "'unsafe-inline'"

# Headers the overrides may not set, and why: they frame the HTTP message,
# belong to the connection, set cookies, redirect, open the site to other
# origins, or belong to Zope and the web server. A wrong value in any of them
# breaks or redirects every response.
_FRAMING = _("it frames the HTTP message, and a wrong value breaks every response")
_HOP_BY_HOP = _(
    "it is a hop-by-hop header, which belongs to the connection between "
    "two servers, not to the page"
)
_COOKIES = _("it sets cookies, which belong to Plone and its add-ons")
_REDIRECTS = _("it redirects, and on every response it would send every page away")
_CORS = _(
    "it is a CORS header, which lets other sites read this one's pages; "
    "configure CORS with plone.rest's CORS policy (the plone:CORSPolicy ZCML "
    "directive) instead"
)
_ZOPE = _("Zope and the web server set it")
FORBIDDEN_HEADERS = {
    "content-encoding": _FRAMING,
    "content-length": _FRAMING,
    "content-range": _FRAMING,
    "content-type": _FRAMING,
    "trailer": _FRAMING,
    "transfer-encoding": _FRAMING,
    "connection": _HOP_BY_HOP,
    "keep-alive": _HOP_BY_HOP,
    "te": _HOP_BY_HOP,
    "upgrade": _HOP_BY_HOP,
    "set-cookie": _COOKIES,
    "set-cookie2": _COOKIES,
    "location": _REDIRECTS,
    "refresh": _REDIRECTS,
    "date": _ZOPE,
    "host": _ZOPE,
    "server": _ZOPE,
    "status": _ZOPE,
    "www-authenticate": _ZOPE,
}
# Whole families: Access-Control-Allow-Origin, -Credentials, ...;
# Proxy-Authenticate, Proxy-Connection, ...
FORBIDDEN_PREFIXES = (("access-control-", _CORS), ("proxy-", _HOP_BY_HOP))
# Headers with their own fields in the control panel.
DEDICATED_HEADERS = {
    "content-security-policy": _("the Content-Security-Policy fields"),
    "content-security-policy-report-only": _("the Content-Security-Policy fields"),
    "reporting-endpoints": _("the Content-Security-Policy fields"),
    "strict-transport-security": _("the Strict-Transport-Security fields"),
}
# A value the framework sets by default that a configured one may replace:
# plone.protect sends X-Frame-Options (PLONE_X_FRAME_OPTIONS) on HTML pages
# before this subscriber runs.
try:
    from plone.protect.auto import X_FRAME_OPTIONS as _PLONE_PROTECT_XFO
except ImportError:  # pragma: no cover
    _PLONE_PROTECT_XFO = None
REPLACEABLE_DEFAULTS = {"x-frame-options": _PLONE_PROTECT_XFO}

# CSP level 3 directives (and the deprecated ones browsers still parse).
SOURCE_LIST_DIRECTIVES = frozenset(
    {
        "default-src",
        "script-src",
        "script-src-elem",
        "script-src-attr",
        "style-src",
        "style-src-elem",
        "style-src-attr",
        "img-src",
        "font-src",
        "connect-src",
        "media-src",
        "object-src",
        "frame-src",
        "child-src",
        "worker-src",
        "manifest-src",
        "prefetch-src",
        "fenced-frame-src",
        "base-uri",
        "form-action",
        "frame-ancestors",
    }
)
OTHER_DIRECTIVES = frozenset(
    {
        "sandbox",
        "upgrade-insecure-requests",
        "block-all-mixed-content",
        "report-uri",
        "report-to",
        "require-trusted-types-for",
        "trusted-types",
        "webrtc",
    }
)
KNOWN_DIRECTIVES = SOURCE_LIST_DIRECTIVES | OTHER_DIRECTIVES
VALUELESS_DIRECTIVES = frozenset(
    {"upgrade-insecure-requests", "block-all-mixed-content"}
)
SOURCE_KEYWORDS = frozenset(
    {
        "'self'",
        "'none'",
        "'unsafe-inline'",
        "'unsafe-eval'",
        "'unsafe-hashes'",
        "'strict-dynamic'",
        "'report-sample'",
        "'wasm-unsafe-eval'",
        "'unsafe-allow-redirects'",
        "'inline-speculation-rules'",
    }
)
SANDBOX_TOKENS = frozenset(
    {
        "allow-downloads",
        "allow-forms",
        "allow-modals",
        "allow-orientation-lock",
        "allow-pointer-lock",
        "allow-popups",
        "allow-popups-to-escape-sandbox",
        "allow-presentation",
        "allow-same-origin",
        "allow-scripts",
        "allow-storage-access-by-user-activation",
        "allow-top-navigation",
        "allow-top-navigation-by-user-activation",
        "allow-top-navigation-to-custom-protocols",
    }
)

# What an HTTP field value may hold (RFC 9110, field-value): visible ASCII,
# space and tab. obs-text (0x80-0xFF) is refused too: servers send it as
# latin-1, which browsers and proxies do not all read the same way; anything
# beyond latin-1 cannot be sent at all and makes the server answer 500.
_UNSENDABLE = re.compile(r"[^\t\x20-\x7e]")
_SENDABLE = re.compile(r"[\t\x20-\x7e]*")
LINE_BREAKS = frozenset("\r\n\x0b\x0c\x85\u2028\u2029")
# Typographic quotes and primes a word processor puts instead of ' and ".
CURLY_QUOTES = frozenset("\u2018\u2019\u201a\u201b\u201c\u201d\u201e\u201f\u2032\u2033")
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_NONCE_OR_HASH = re.compile(
    r"^'(?:nonce|sha256|sha384|sha512)-[A-Za-z0-9+/_-]+={0,2}'$", re.IGNORECASE
)
_SCHEME_SOURCE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:$")
_HOST_SOURCE = re.compile(
    r"^(?:[A-Za-z][A-Za-z0-9+.-]*://)?"
    r"(?:\*|(?:\*\.)?[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])"
    r"(?::(?:[0-9]+|\*))?"
    r"(?:/[^\s;,]*)?$"
)


class HeaderSettingError(InvalidSetting):
    """A header setting is invalid."""


def _fail(text, **mapping):
    raise HeaderSettingError(_(text, mapping=mapping))


def _character(char):
    """``U+2019 (’)``; a character that does not print as its escape."""
    shown = char if char.isprintable() and not char.isspace() else repr(char)
    return f"U+{ord(char):04X} ({shown})"


def _check_value(value, what):
    """Refuse what HTTP cannot carry, and values over 4 KiB.

    :param value: a header value, or a whole override line.
    :param what: how the message names it ("Line 2", "The custom policy").
    :raises HeaderSettingError: naming the character and its column
        (1-based), or the length.
    """
    match = _UNSENDABLE.search(value)
    if match is not None:
        char = match.group(0)
        mapping = {"what": what, "char": _character(char), "column": match.start() + 1}
        if char in LINE_BREAKS:
            _fail(
                "${what} contains a line break ${char} at column ${column}: "
                "a header is one line, and a line break would let it add "
                "headers of its own. Write it on one line.",
                **mapping,
            )
        if char in CURLY_QUOTES:
            _fail(
                "${what} contains a curly quote ${char} at column ${column}, "
                "which HTTP cannot carry: use straight quotes (' or \") "
                "instead.",
                **mapping,
            )
        if ord(char) < 0x20 or 0x7F <= ord(char) < 0xA0:
            _fail(
                "${what} contains a control character ${char} at column "
                "${column}, which HTTP cannot carry. Remove it.",
                **mapping,
            )
        _fail(
            "${what} contains ${char} at column ${column}, which HTTP cannot "
            "carry: a header holds only ASCII letters, digits, punctuation, "
            "spaces and tabs. Replace it (a host name with accents: use its "
            "xn-- form).",
            **mapping,
        )
    if len(value) > MAX_VALUE_LENGTH:
        _fail(
            "${what} is longer than 4 KiB (${length} bytes): proxies and "
            "browsers may drop it. Shorten it.",
            what=what,
            length=len(value),
        )


def _forbidden(key):
    """Why the overrides may not set the header ``key``, or None."""
    reason = FORBIDDEN_HEADERS.get(key)
    if reason is None:
        for prefix, family in FORBIDDEN_PREFIXES:
            if key.startswith(prefix):
                return family
    return reason


def parse_header_line(line, number=1):
    """Split an override line ``Name: value``; validate both halves.

    :param line: one line of the overrides setting.
    :param number: its line number (1-based), for the messages.
    :returns: ``(name, value)``; ``value`` is ``""`` for ``Name:``.
    :raises HeaderSettingError: with a message saying what is wrong.
    """
    _check_value(line, _("Line ${line}", mapping={"line": number}))
    if ":" not in line:
        _fail(
            "Line ${line} '${content}' is not a header: write 'Name: value', "
            "or 'Name:' to stop sending a header of the preset.",
            line=number,
            content=line[:80],
        )
    name, value = line.split(":", 1)
    name, value = name.strip(), value.strip()
    if not _TOKEN.match(name):
        _fail(
            "'${name}' is not a valid header name: use letters, digits and "
            "dashes, e.g. 'X-Frame-Options'.",
            name=name[:80],
        )
    key = name.lower()
    reason = _forbidden(key)
    if reason is not None:
        _fail(
            "The add-on does not set ${name}: ${reason}. Remove line ${line}.",
            name=name[:80],
            reason=reason,
            line=number,
        )
    if key in DEDICATED_HEADERS:
        _fail(
            "${name} has its own settings: use ${fields} instead.",
            name=name,
            fields=DEDICATED_HEADERS[key],
        )
    return name, value


def header_size(name, value):
    """Bytes of one header on the wire: ``Name: value`` and CRLF."""
    return len(name) + len(value) + 4


def validate_header_lines(value):
    """Constraint of ``headers_overrides``: every line valid, no duplicates."""
    seen = {}
    for number, line in enumerate(value or (), 1):
        if not line.strip():
            _check_value(line, _("Line ${line}", mapping={"line": number}))
            continue
        name, _value = parse_header_line(line, number)
        if name.lower() in seen:
            _fail(
                "${name} appears twice (lines ${first} and ${line}): keep one "
                "line per header.",
                name=name,
                first=seen[name.lower()],
                line=number,
            )
        seen[name.lower()] = number
    return True


def configured_size(lines, policy):
    """Bytes the header overrides and the custom policy take on the wire.

    :param lines: the override lines (anything else counts nothing).
    :param policy: the custom Content-Security-Policy, or None.
    """
    size = 0
    for line in lines or ():
        if isinstance(line, str) and ":" in line:
            name, value = line.split(":", 1)
            if value.strip():
                size += header_size(name.strip(), value.strip())
    if isinstance(policy, str) and policy.strip():
        size += header_size(CSP_REPORT_ONLY_HEADER, policy.strip())
    return size


def check_total_size(lines, policy):
    """All configured headers within :data:`MAX_TOTAL_LENGTH`."""
    size = configured_size(lines, policy)
    if size > MAX_TOTAL_LENGTH:
        _fail(
            "The header overrides and the custom policy add up to ${size} "
            "bytes, over the 8 KiB (8192 bytes) they may take together: "
            "servers and proxies refuse responses with big headers. Shorten "
            "them.",
            size=size,
        )


def accept_any_line(value):
    """Constraint of the override lines themselves: the list checks them,
    with messages that say what is wrong."""
    return True


def _check_source(directive, token):
    if token in SOURCE_KEYWORDS or token == "*":  # noqa: S105 - not a password
        return
    if _NONCE_OR_HASH.match(token) or _SCHEME_SOURCE.match(token):
        return
    if token.startswith("'") or token.endswith("'"):
        _fail(
            "${token} in ${directive} is not a CSP keyword: use one of "
            "${keywords}, or a nonce or hash source.",
            token=token[:80],
            directive=directive,
            keywords=", ".join(sorted(SOURCE_KEYWORDS)),
        )
    if f"'{token.lower()}'" in SOURCE_KEYWORDS:
        _fail(
            "${token} in ${directive} must be in single quotes: '${token}'. "
            "Unquoted, it means a host called ${token}.",
            token=token,
            directive=directive,
        )
    if not _HOST_SOURCE.match(token):
        _fail(
            "${token} in ${directive} is not a valid source expression: use "
            "a host (example.org, *.example.org, https://cdn.example.org), a "
            "scheme (https:, data:) or a quoted keyword such as 'self'.",
            token=token[:80],
            directive=directive,
        )


def parse_csp(policy):
    """Parse and validate a Content-Security-Policy.

    :param policy: the policy text, directives separated by ``;``.
    :returns: a list of ``(directive, tokens)`` in order, names lower-case.
    :raises HeaderSettingError: an unknown directive, a directive given twice,
        a malformed source expression, or an unsafe character.
    """
    _check_value(policy, _("The Content-Security-Policy"))
    directives = []
    seen = set()
    for part in policy.split(";"):
        tokens = part.split()
        if not tokens:
            continue
        name, values = tokens[0].lower(), tokens[1:]
        if name not in KNOWN_DIRECTIVES:
            _fail(
                "Unknown CSP directive '${name}': check its spelling (e.g. "
                "script-src, style-src, img-src, default-src, frame-ancestors).",
                name=tokens[0][:80],
            )
        if name in seen:
            _fail(
                "The CSP directive ${name} appears twice: browsers ignore the "
                "second one. Merge them.",
                name=name,
            )
        seen.add(name)
        if name in SOURCE_LIST_DIRECTIVES:
            for token in values:
                _check_source(name, token)
            if "'none'" in values and len(values) > 1:
                _fail(
                    "'none' in ${directive} must stand alone: remove it or "
                    "the other sources.",
                    directive=name,
                )
        elif name in VALUELESS_DIRECTIVES and values:
            _fail("The CSP directive ${name} takes no value.", name=name)
        elif name == "sandbox":
            for token in values:
                if token.lower() not in SANDBOX_TOKENS:
                    _fail(
                        "${token} is not a sandbox flag: use allow-scripts, "
                        "allow-forms, allow-same-origin, ...",
                        token=token[:80],
                    )
        elif name in ("report-uri", "report-to") and not values:
            _fail("The CSP directive ${name} needs a value.", name=name)
        directives.append((name, values))
    if not directives:
        _fail("The Content-Security-Policy is empty: write at least one directive.")
    return directives


def validate_csp(value):
    """Constraint of ``headers_csp_policy``; an empty value is allowed."""
    if value and value.strip():
        parse_csp(value)
    elif value:
        _check_value(value, _("The Content-Security-Policy"))
    return True


def validate_max_age(value):
    """Constraint of ``headers_hsts_max_age``."""
    if value is not None and value < 0:
        _fail(
            "max-age is a number of seconds and cannot be negative (${value}): "
            "use 31536000 (one year), or 0 to make browsers forget HSTS.",
            value=value,
        )
    return True


def check_preload(max_age, include_subdomains, preload):
    """The preload list's requirements; raises HeaderSettingError."""
    if not preload:
        return
    if max_age is None or max_age < HSTS_PRELOAD_MIN_MAX_AGE or not include_subdomains:
        _fail(
            "HSTS preload needs max-age of at least 31536000 and "
            "includeSubDomains: browsers' preload lists refuse anything less. "
            "Raise max-age and tick includeSubDomains, or untick preload."
        )


def effective_sources(directives, name="script-src"):
    """The sources that govern ``name``: its own, else default-src's.

    :returns: a tuple of tokens, or None when neither is present.
    """
    mapping = dict(directives)
    if name in mapping:
        return tuple(mapping[name])
    if "default-src" in mapping:
        return tuple(mapping["default-src"])
    return None


def _relax(directives, extra):
    """The policy text with ``extra`` added to the script sources."""
    names = {name for name, _values in directives}
    target = "script-src" if "script-src" in names else "default-src"
    parts = []
    for name, values in directives:
        if name == target and extra not in values:
            values = [v for v in values if v != "'none'"] + [extra]
        parts.append(" ".join([name, *values]))
    return "; ".join(parts)


MAX_LOGGED = 1024
_logged = set()
_logged_lock = threading.Lock()


def log_once(key, message, *args, exc_info=False):
    """Log a warning the first time ``key`` is seen in this process."""
    with _logged_lock:
        if key in _logged:
            return
        if len(_logged) >= MAX_LOGGED:  # bounded; at worst a line is repeated
            _logged.clear()
        _logged.add(key)
    logger.warning(message, *args, exc_info=exc_info)


class HeaderPlan:
    """The headers to send, compiled from one settings snapshot.

    The subscriber calls :meth:`headers_for` per response; it returns a
    cached tuple of ``(lower-case name, value)`` pairs.
    """

    def __init__(
        self,
        enabled=True,
        preset="compatible",
        static=(),
        csp_mode=None,
        csp_policy=None,
        csp_reporting=False,
        hsts=None,
        hsts_max_age=None,
        relaxed=None,
        upgrade_insecure=False,
        switched_off=(),
    ):
        self.enabled = enabled
        self.preset = preset
        self.static = tuple(static)
        self.csp_mode = csp_mode  # "enforce", "report-only" or None
        self.csp_policy = csp_policy  # without reporting directives
        self.csp_directives = parse_csp(csp_policy) if csp_policy else ()
        self.csp_reporting = csp_reporting
        self.hsts = hsts  # the value, or None when not sent
        self.hsts_max_age = hsts_max_age
        self.relaxed = relaxed or {}  # variant -> policy text
        self.upgrade_insecure = upgrade_insecure  # on https responses
        self.switched_off = tuple(switched_off)  # preset headers not sent
        self.seen_https = False  # set by the subscriber
        self._cache = {}
        self._paths = {}

    @property
    def csp_header(self):
        if self.csp_mode == "enforce":
            return CSP_HEADER
        if self.csp_mode == "report-only":
            return CSP_REPORT_ONLY_HEADER
        return None

    def variant(self, url):
        """Which relaxed policy applies to the published ``url``, if any."""
        if not self.relaxed:
            return None
        segment = url[url.rfind("/") + 1 :]
        if segment == "manage" or segment.startswith(ZMI_PREFIX):
            return ZMI_RELAXATION
        for segments, extra in STRICT_RELAXATIONS:
            if segment in segments:
                return extra
        return None

    def site_path(self, site, request):
        """The URL path of ``site`` for ``request`` (after virtual hosting),
        remembered per virtual root: ``absolute_url_path`` costs more than
        everything else the subscriber does."""
        key = (
            request.other.get("VirtualRootPhysicalPath"),
            tuple(getattr(request, "_script", ())),
        )
        try:
            return self._paths[key]
        except KeyError:
            path = site.absolute_url_path()
            if len(self._paths) < 256:
                self._paths[key] = path
            return path

    def headers_for(self, https, site_path, variant=None):
        """The headers of one response.

        :param https: whether the public URL of the request is https.
        :param site_path: the site's URL path (after virtual hosting), where
            ``@@csp-report`` is.
        :param variant: a relaxation from :meth:`variant`.
        :returns: a tuple of ``(lower-case name, value)``.
        """
        key = (https, site_path, variant)
        try:
            return self._cache[key]
        except KeyError:
            pass
        headers = list(self.static)
        if https and self.hsts:
            headers.append(("strict-transport-security", self.hsts))
        if self.csp_mode:
            policy = self.relaxed.get(variant, self.csp_policy)
            if https and self.upgrade_insecure:
                policy += "; upgrade-insecure-requests"
            if self.csp_reporting:
                # Chromium reads Reporting-Endpoints only from HTTPS responses
                # and, given report-to, ignores report-uri: over plain HTTP
                # report-to would silence every report (measured, README).
                endpoint = quote(site_path.rstrip("/"), safe="/%") + "/" + REPORT_VIEW
                policy += f"; report-uri {endpoint}"
                if https:
                    policy += f"; report-to {REPORT_GROUP}"
                    headers.append(
                        ("reporting-endpoints", f'{REPORT_GROUP}="{endpoint}"')
                    )
            headers.append((self.csp_header.lower(), policy))
        result = tuple(sendable(headers))
        if len(self._cache) < 256:  # a few virtual hosts; never unbounded
            self._cache[key] = result
        return result


def sendable(headers):
    """The last safety net: only values HTTP can carry, whatever the settings
    or the request held. A value that is not is left out and logged once;
    the other headers go out.

    :param headers: ``(lower-case name, value)`` pairs.
    """
    for key, value in headers:
        if isinstance(value, str) and _SENDABLE.fullmatch(value):
            yield key, value
        else:
            log_once(
                ("unsendable", key),
                "The %s header cannot be sent (a character HTTP cannot "
                "carry); responses go out without it.",
                key,
            )


DISABLED = HeaderPlan(enabled=False)


def _setting(snapshot, site_key, name, validate=True):
    """A validated setting from the snapshot; the schema default when it is
    missing or broken (logged once). ``validate=False`` leaves validating
    to the caller."""
    from collective.securitybp.interfaces import IHeaderSettings

    field = IHeaderSettings[name]
    marker = object()
    value = snapshot.get(name, marker)
    if value is marker:
        log_once(
            (site_key, name, "missing"),
            "The registry record collective.securitybp.%s is missing; using "
            "%r. Reinstall or upgrade collective.securitybp.",
            name,
            field.default,
        )
        return field.default
    if not validate:
        return value
    try:
        field.validate(value)
    except Exception as error:
        log_once(
            (site_key, name, repr(value)[:200]),
            "The registry record collective.securitybp.%s has an invalid "
            "value (%s); using %r.",
            name,
            (str(error) or type(error).__name__)[:300],
            field.default,
        )
        return field.default
    return value


def _overrides(snapshot, site_key):
    """The override lines that can be sent, by lower-case name, and the
    bytes left of :data:`MAX_TOTAL_LENGTH`.

    The record is validated line by line, not as a whole: a line that cannot
    be sent (stored bypassing the control panel: a GenericSetup import, an
    older version, a script) is left out and logged once, so that header
    keeps the preset's value or is not sent, and every other line counts.
    """
    lines = _setting(snapshot, site_key, "headers_overrides", validate=False)
    if not isinstance(lines, (list, tuple)):
        log_once(
            (site_key, "headers_overrides", "type"),
            "The registry record collective.securitybp.headers_overrides is "
            "not a list (%s); sending no override.",
            type(lines).__name__,
        )
        return {}, MAX_TOTAL_LENGTH
    overrides, budget = {}, MAX_TOTAL_LENGTH
    for number, line in enumerate(lines, 1):
        if isinstance(line, str) and not line.strip():
            continue
        try:
            if not isinstance(line, str):
                _fail("Line ${line} is not text.", line=number)
            name, value = parse_header_line(line, number)
            key = name.lower()
            if key in overrides:
                _fail("${name} appears twice.", name=name)
            if value and header_size(name, value) > budget:
                _fail("The header overrides take over 8 KiB.")
        except HeaderSettingError as error:
            log_once(
                (site_key, "headers_overrides", number, repr(line)[:100]),
                "Line %s of collective.securitybp.headers_overrides cannot be "
                "sent and is left out (the preset's value, if any, is sent "
                "instead): %s",
                number,
                str(error)[:300],
            )
            continue
        overrides[key] = (name, value)
        if value:
            budget -= header_size(name, value)
    return overrides, budget


def compile_plan(snapshot, site_key=""):
    """Build the :class:`HeaderPlan` of a settings snapshot. Never raises:
    a broken setting falls back to its default."""

    def get(name):
        return _setting(snapshot, site_key, name)

    if not get("headers_enabled"):
        return HeaderPlan(enabled=False, preset=get("headers_preset"))
    preset = get("headers_preset")
    overrides, budget = _overrides(snapshot, site_key)
    static, switched_off = [], []
    for name, value in PRESET_HEADERS[preset]:
        if name.lower() in overrides:
            name, value = overrides.pop(name.lower())
        if value:
            static.append((name.lower(), value))
        else:
            switched_off.append(name.lower())
    static.extend((key, value) for key, (_n, value) in overrides.items() if value)

    mode = get("headers_csp_mode")
    custom = (get("headers_csp_policy") or "").strip()
    if custom and header_size(CSP_REPORT_ONLY_HEADER, custom) > budget:
        log_once(
            (site_key, "headers_csp_policy", "size"),
            "The custom policy in collective.securitybp.headers_csp_policy "
            "takes the header overrides over %s bytes; sending the preset's "
            "policy instead.",
            MAX_TOTAL_LENGTH,
        )
        custom = ""
    preset_mode, preset_policy = PRESET_CSP[preset]
    if mode == "preset":
        mode, policy = preset_mode, custom or preset_policy
    elif mode == "off":
        mode, policy = None, None
    else:
        policy = custom or preset_policy or COMPATIBLE_CSP
    relaxed = {}
    directives = parse_csp(policy) if policy else ()
    reporting = not any(n in ("report-uri", "report-to") for n, _v in directives)
    upgrade_insecure = policy == STRICT_CSP and mode == "enforce"
    if policy == STRICT_CSP:
        variants = {extra for _segments, extra in STRICT_RELAXATIONS}
        variants.add(ZMI_RELAXATION)
        relaxed = {extra: _relax(directives, extra) for extra in variants}

    hsts = max_age = None
    if preset != "off" and get("headers_hsts_enabled"):
        max_age = get("headers_hsts_max_age")
        subdomains = get("headers_hsts_include_subdomains")
        preload = get("headers_hsts_preload")
        try:
            check_preload(max_age, subdomains, preload)
        except HeaderSettingError:
            log_once(
                (site_key, "headers_hsts_preload"),
                "HSTS preload is on without max-age >= %s and "
                "includeSubDomains; sending HSTS without preload.",
                HSTS_PRELOAD_MIN_MAX_AGE,
            )
            preload = False
        hsts = f"max-age={max_age}"
        if subdomains:
            hsts += "; includeSubDomains"
        if preload:
            hsts += "; preload"
    return HeaderPlan(
        enabled=True,
        preset=preset,
        static=static,
        csp_mode=mode,
        csp_policy=policy,
        csp_reporting=reporting,
        hsts=hsts,
        hsts_max_age=max_age,
        relaxed=relaxed,
        upgrade_insecure=upgrade_insecure,
        switched_off=switched_off,
    )


def _form_value(data, name):
    """A value from a form's data, else the stored record (a REST PATCH
    carries only the fields it changes)."""
    try:
        return getattr(data, name)
    except Exception:
        from plone.registry.interfaces import IRegistry
        from zope.component import queryUtility

        registry = queryUtility(IRegistry)
        if registry is None:
            return None
        return registry.get(f"collective.securitybp.{name}")


def preload_invariant(data):
    """Invariant of ``IHeaderSettings``: preload only with its requirements."""
    check_preload(
        _form_value(data, "headers_hsts_max_age"),
        _form_value(data, "headers_hsts_include_subdomains"),
        _form_value(data, "headers_hsts_preload"),
    )


def size_invariant(data):
    """Invariant of ``IHeaderSettings``: all configured headers within 8 KiB."""
    check_total_size(
        _form_value(data, "headers_overrides"),
        _form_value(data, "headers_csp_policy"),
    )
