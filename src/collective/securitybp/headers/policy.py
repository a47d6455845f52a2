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
from zope.schema.vocabulary import SimpleTerm
from zope.schema.vocabulary import SimpleVocabulary
import re
import threading


MAX_VALUE_LENGTH = 4096
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

# Headers the overrides may not touch: they frame the HTTP message or belong
# to other parts of Zope.
FORBIDDEN_HEADERS = frozenset(
    {
        "connection",
        "content-encoding",
        "content-length",
        "content-type",
        "date",
        "host",
        "keep-alive",
        "location",
        "proxy-authenticate",
        "proxy-connection",
        "server",
        "set-cookie",
        "status",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "www-authenticate",
    }
)
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

_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
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


def _check_value(value, what):
    """Refuse control characters and values over 4 KiB in a header value."""
    match = _CONTROL.search(value)
    if match is not None:
        _fail(
            "${what} contains a control character (${char}): a line break "
            "would let it add headers of its own. Write it on one line.",
            what=what,
            char=repr(match.group(0)),
        )
    if len(value.encode("utf-8")) > MAX_VALUE_LENGTH:
        _fail(
            "${what} is longer than 4 KiB (${length} bytes): proxies and "
            "browsers may drop it. Shorten it.",
            what=what,
            length=len(value.encode("utf-8")),
        )


def parse_header_line(line):
    """Split an override line ``Name: value``; validate both halves.

    :param line: one line of the overrides setting.
    :returns: ``(name, value)``; ``value`` is ``""`` for ``Name:``.
    :raises HeaderSettingError: with a message saying what is wrong.
    """
    if ":" not in line:
        _fail(
            "'${line}' is not a header: write 'Name: value', or 'Name:' to "
            "stop sending a header of the preset.",
            line=line[:80],
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
    if key in FORBIDDEN_HEADERS:
        _fail(
            "${name} frames the HTTP response or belongs to Zope: the add-on "
            "does not set it.",
            name=name,
        )
    if key in DEDICATED_HEADERS:
        _fail(
            "${name} has its own settings: use ${fields} instead.",
            name=name,
            fields=DEDICATED_HEADERS[key],
        )
    _check_value(value, name)
    return name, value


def validate_header_lines(value):
    """Constraint of ``headers_overrides``: every line valid, no duplicates."""
    seen = set()
    for line in value or ():
        _check_value(line, _("A header line"))
        if not line.strip():
            continue
        name, _value = parse_header_line(line)
        if name.lower() in seen:
            _fail(
                "${name} appears twice: keep one line per header.",
                name=name,
            )
        seen.add(name.lower())
    return True


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
    _check_value(policy, "Content-Security-Policy")
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
        _check_value(value, "Content-Security-Policy")
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


_logged = set()
_logged_lock = threading.Lock()


def log_once(key, message, *args, exc_info=False):
    """Log a warning the first time ``key`` is seen in this process."""
    with _logged_lock:
        if key in _logged:
            return
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
                endpoint = site_path.rstrip("/") + "/" + REPORT_VIEW
                policy += f"; report-uri {endpoint}"
                if https:
                    policy += f"; report-to {REPORT_GROUP}"
                    headers.append(
                        ("reporting-endpoints", f'{REPORT_GROUP}="{endpoint}"')
                    )
            headers.append((self.csp_header.lower(), policy))
        result = tuple(headers)
        if len(self._cache) < 256:  # a few virtual hosts; never unbounded
            self._cache[key] = result
        return result


DISABLED = HeaderPlan(enabled=False)


def _setting(snapshot, site_key, name):
    """A validated setting from the snapshot; the schema default when it is
    missing or broken (logged once)."""
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
    try:
        field.validate(value)
    except Exception as error:
        log_once(
            (site_key, name, repr(value)[:200]),
            "The registry record collective.securitybp.%s has an invalid "
            "value (%s); using %r.",
            name,
            str(error) or type(error).__name__,
            field.default,
        )
        return field.default
    return value


def compile_plan(snapshot, site_key=""):
    """Build the :class:`HeaderPlan` of a settings snapshot. Never raises:
    a broken setting falls back to its default."""

    def get(name):
        return _setting(snapshot, site_key, name)

    if not get("headers_enabled"):
        return HeaderPlan(enabled=False, preset=get("headers_preset"))
    preset = get("headers_preset")
    overrides = {}
    for line in get("headers_overrides") or ():
        if line.strip():
            name, value = parse_header_line(line)
            overrides[name.lower()] = (name, value)
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
