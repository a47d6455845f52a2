"""Interfaces of collective.securitybp."""

from collective.securitybp import _
from collective.securitybp.exc import InvalidSetting
from collective.securitybp.headers import policy as header_policy
from collective.securitybp.zmi import config as zmi_config
from plone.autoform import directives
from plone.supermodel import model
from zope import schema
from zope.interface import Attribute
from zope.interface import Interface
from zope.interface import invariant
from zope.publisher.interfaces.browser import IDefaultBrowserLayer
from zope.schema.vocabulary import SimpleTerm
from zope.schema.vocabulary import SimpleVocabulary


FAIL_ON_VOCABULARY = SimpleVocabulary(
    [
        SimpleTerm("critical", title=_("Critical")),
        SimpleTerm("high", title=_("High")),
        SimpleTerm("medium", title=_("Medium")),
        SimpleTerm("low", title=_("Low")),
        SimpleTerm("info", title=_("Info")),
        SimpleTerm("never", title=_("Never")),
    ]
)
FAIL_ON_CHOICES = tuple(term.value for term in FAIL_ON_VOCABULARY)


class IBrowserLayer(IDefaultBrowserLayer):
    """Marker for requests in a site where the add-on is installed."""


class ISecurityCheck(Interface):
    """One question about the site.

    Register an implementation with the ``securitybp:check`` ZCML directive;
    it becomes a named utility whose name is the check's id.
    """

    id = Attribute("Stable id, SBP-<AREA>-<NNN>; never renumbered or reused.")
    title = Attribute("Short title, one line, under 80 characters.")
    area = Attribute("The collective.securitybp.model.Area it belongs to.")
    severity = Attribute("Default collective.securitybp.model.Severity.")
    reference = Attribute("Section of the best-practices document.")

    def run(context):
        """Look at the site and return a list of Finding objects.

        :param context: an :class:`collective.securitybp.audit.AuditContext`.
        :returns: a list of findings; empty when the check passed.

        A check must not write to the database.
        """


class IAuditSettings(model.Schema):
    """How the audit reports."""

    fail_on = schema.Choice(
        title=_("label_fail_on", default="Fail at severity"),
        description=_(
            "help_fail_on",
            default=(
                "An unacknowledged finding at or above this severity marks "
                "the report as failed: the command line exits with 1 and the "
                'JSON report says "failed": true. Monitoring relies on it.'
            ),
        ),
        vocabulary=FAIL_ON_VOCABULARY,
        default="high",
        required=True,
    )


# Each area's settings live in their own schema below; ISecuritySettings
# combines them into the registry records (prefix ``collective.securitybp``)
# and the control panel, one fieldset per schema.


PRIVILEGES_MAX_DAYS = 3650


def privileges_days(value):
    """Constraint of the privilege checks' day counts: 1 to 3650.

    :raises zope.interface.Invalid: with a message that says what to enter.
    """
    if not 1 <= value <= PRIVILEGES_MAX_DAYS:
        raise InvalidSetting(
            _(
                "The number of days must be from 1 to 3650 (about ten "
                "years): enter a whole number in that range."
            )
        )
    return True


class IPrivilegeSettings(model.Schema):
    """Settings of the privilege checks (SBP-PRIV-*)."""

    model.fieldset(
        "privileges",
        label=_("label_privileges_fieldset", default="Privileges"),
        fields=[
            "privileges_daily_work_days",
            "privileges_dormant_days",
        ],
    )

    privileges_daily_work_days = schema.Int(
        title=_(
            "label_privileges_daily_work_days",
            default="Daily work: content created or changed in the last days",
        ),
        description=_(
            "help_privileges_daily_work_days",
            default="A Manager or Site Administrator who created or changed "
            "content in this many days is reported as used for daily work.",
        ),
        default=30,
        required=True,
        constraint=privileges_days,
    )

    privileges_dormant_days = schema.Int(
        title=_(
            "label_privileges_dormant_days",
            default="Dormant after days without login",
        ),
        description=_(
            "help_privileges_dormant_days",
            default="A Manager or Site Administrator of the site who has not "
            "logged in for this many days (or never) is reported as dormant.",
        ),
        default=180,
        required=True,
        constraint=privileges_days,
    )


class IHeaderSettings(model.Schema):
    """Settings of the response security headers and their checks."""

    model.fieldset(
        "headers",
        label=_("label_headers_fieldset", default="Security headers"),
        fields=[
            "headers_enabled",
            "headers_preset",
            "headers_overrides",
            "headers_csp_mode",
            "headers_csp_policy",
            "headers_hsts_enabled",
            "headers_hsts_max_age",
            "headers_hsts_include_subdomains",
            "headers_hsts_preload",
        ],
    )

    headers_enabled = schema.Bool(
        title=_("label_headers_enabled", default="Send security headers"),
        description=_(
            "help_headers_enabled",
            default="Add the headers below to every response of this site. "
            "A header a page sets itself is left alone.",
        ),
        default=True,
        required=False,
    )

    headers_preset = schema.Choice(
        title=_("label_headers_preset", default="Preset"),
        description=_(
            "help_headers_preset",
            default="Compatible: works with every page of the classic UI; "
            "the Content-Security-Policy only reports violations. Strict: "
            "tighter cross-origin isolation and an enforced policy (check the "
            "CSP violations on the security report first). Off: only the "
            "extra headers below.",
        ),
        vocabulary=header_policy.PRESET_VOCABULARY,
        default="compatible",
        required=True,
    )

    headers_overrides = schema.List(
        title=_(
            "label_headers_overrides", default="Header overrides and extra headers"
        ),
        description=_(
            "help_headers_overrides",
            default="One header per line, as 'Name: value'. A line for a "
            "header of the preset replaces its value; 'Name:' without a value "
            "stops sending it; any other header is added, e.g. "
            "'Cross-Origin-Embedder-Policy: require-corp'.",
        ),
        value_type=schema.TextLine(constraint=header_policy.accept_any_line),
        default=[],
        missing_value=[],
        required=False,
        constraint=header_policy.validate_header_lines,
    )

    headers_csp_mode = schema.Choice(
        title=_("label_headers_csp_mode", default="Content-Security-Policy"),
        description=_(
            "help_headers_csp_mode",
            default="As the preset says (compatible: report only; strict: "
            "enforced), report only, enforced, or not sent. Browsers send "
            "violations to @@csp-report; the security report lists them.",
        ),
        vocabulary=header_policy.CSP_MODE_VOCABULARY,
        default="preset",
        required=True,
    )

    headers_csp_policy = schema.TextLine(
        title=_("label_headers_csp_policy", default="Custom policy"),
        description=_(
            "help_headers_csp_policy",
            default="Replaces the preset's policy when filled in, e.g. "
            "\"default-src 'self'; img-src 'self' data:\". report-uri and "
            "report-to pointing at this site are added unless the policy has "
            "its own.",
        ),
        default="",
        missing_value="",
        required=False,
        constraint=header_policy.validate_csp,
    )

    headers_hsts_enabled = schema.Bool(
        title=_("label_headers_hsts_enabled", default="Strict-Transport-Security"),
        description=_(
            "help_headers_hsts_enabled",
            default="Tell browsers to use only HTTPS for this host. Sent only "
            "on responses whose public URL is https (after virtual hosting).",
        ),
        default=True,
        required=False,
    )

    directives.widget(
        headers_hsts_max_age="collective.securitybp.headers.form.WholeNumberFieldWidget"
    )
    headers_hsts_max_age = schema.Int(
        title=_("label_headers_hsts_max_age", default="HSTS max-age (seconds)"),
        description=_(
            "help_headers_hsts_max_age",
            default="How long browsers remember it: 31536000 is a year; "
            "under 15768000 (six months) is graded down.",
        ),
        default=31536000,
        required=True,
        constraint=header_policy.validate_max_age,
    )

    headers_hsts_include_subdomains = schema.Bool(
        title=_("label_headers_hsts_include_subdomains", default="includeSubDomains"),
        description=_(
            "help_headers_hsts_include_subdomains",
            default="Apply it to every subdomain too; each must then serve HTTPS.",
        ),
        default=True,
        required=False,
    )

    headers_hsts_preload = schema.Bool(
        title=_("label_headers_hsts_preload", default="preload"),
        description=_(
            "help_headers_hsts_preload",
            default="Ask to be built into browsers (hstspreload.org). Hard to "
            "undo; needs max-age of at least 31536000 and includeSubDomains.",
        ),
        default=False,
        required=False,
    )

    @invariant
    def headers_hsts_preload_requirements(data):
        header_policy.preload_invariant(data)

    @invariant
    def headers_total_size(data):
        header_policy.size_invariant(data)


class IZMIGuardSettings(model.Schema):
    """Settings of the management interface guard and its checks."""

    model.fieldset(
        "zmi",
        label=_("label_zmi_fieldset", default="Management interface"),
        fields=[
            "zmi_mode",
            "zmi_manage_hosts",
            "zmi_trusted_proxies",
            "zmi_admin_networks",
            "zmi_blocked_status",
        ],
    )

    zmi_mode = schema.Choice(
        title=_("label_zmi_mode", default="Management interface guard"),
        description=_(
            "help_zmi_mode",
            default="Report: requests for the management interface (ZMI), "
            "WebDAV and XML-RPC on other hosts than the manage hosts are "
            "recorded and reported. Block: they get the response below, "
            "before anybody logs in. The environment variable "
            "SECURITYBP_ZMI_GUARD=off switches blocking off.",
        ),
        vocabulary=zmi_config.MODE_VOCABULARY,
        default=zmi_config.MODE_REPORT,
        required=True,
    )

    zmi_manage_hosts = schema.List(
        title=_("label_zmi_manage_hosts", default="Manage hosts"),
        description=_(
            "help_zmi_manage_hosts",
            default="Host names on which the management interface is "
            "allowed, one per line, for example manage.example.com, or "
            "localhost for an SSH tunnel. Block mode needs at least one.",
        ),
        value_type=schema.TextLine(),
        default=[],
        missing_value=[],
        required=False,
        constraint=zmi_config.check_manage_hosts,
    )

    zmi_trusted_proxies = schema.List(
        title=_("label_zmi_trusted_proxies", default="Trusted proxies"),
        description=_(
            "help_zmi_trusted_proxies",
            default="Addresses or networks of your front proxies, one per "
            "line (for example 127.0.0.1 or 10.0.0.0/8). A manage host is "
            "believed only when a trusted proxy or a client in the admin "
            "networks names it, and only a trusted proxy's X-Forwarded-For "
            "header is believed for the client address. Default: this "
            "machine (loopback).",
        ),
        value_type=schema.TextLine(),
        default=list(zmi_config.LOOPBACK_NETWORKS),
        missing_value=[],
        required=False,
        constraint=zmi_config.check_networks,
    )

    zmi_admin_networks = schema.List(
        title=_("label_zmi_admin_networks", default="Admin networks"),
        description=_(
            "help_zmi_admin_networks",
            default="Addresses or networks of your administrators, one per "
            "line (for example 192.0.2.0/24). When set, the management "
            "interface answers on the manage hosts only to clients in these "
            "networks. Empty: any client that reaches a manage host.",
        ),
        value_type=schema.TextLine(),
        default=[],
        missing_value=[],
        required=False,
        constraint=zmi_config.check_networks,
    )

    zmi_blocked_status = schema.Choice(
        title=_("label_zmi_blocked_status", default="Response to a blocked request"),
        description=_(
            "help_zmi_blocked_status",
            default="404 makes the management interface look absent; 403 "
            "says it is refused.",
        ),
        vocabulary=zmi_config.STATUS_VOCABULARY,
        default="404",
        required=True,
    )

    @invariant
    def zmi_block_needs_manage_hosts(data):
        zmi_config.block_needs_manage_hosts(
            zmi_config.form_value(data, "zmi_mode"),
            zmi_config.form_value(data, "zmi_manage_hosts"),
        )


BACKUPS_DEFAULT_LOCATIONS = (
    "var/backups",
    "var/snapshotbackups",
    "var/zipbackups",
    "var/blobstoragebackups",
    "var/blobstoragesnapshots",
    "var/blobstoragezips",
)
BACKUPS_MAX_AGE_LIMIT = 24 * 366


def backups_location(value):
    """Constraint of one backup location: a path on one line.

    :raises zope.interface.Invalid: with a message that says what to enter.
    """
    if not value.strip() or any(ord(char) < 32 for char in value):
        raise InvalidSetting(
            _(
                "error_backups_location",
                default="Enter each backup location as a directory path on "
                "its own line, absolute (/srv/backups/plone) or relative to "
                "the instance's base directory (var/backups).",
            )
        )
    return True


def backups_max_age(value):
    """Constraint of the maximum backup age: 1 hour to a year.

    :raises zope.interface.Invalid: with a message that says what to enter.
    """
    if not 1 <= value <= BACKUPS_MAX_AGE_LIMIT:
        raise InvalidSetting(
            _(
                "error_backups_max_age",
                default="${value} hours cannot be used: enter a whole number "
                "of hours from 1 to ${max} (a year); 26 suits a daily backup.",
                mapping={"value": value, "max": BACKUPS_MAX_AGE_LIMIT},
            )
        )
    return True


def maintenance_restore_date(value):
    """Constraint of the last restore test: not in the future.

    :raises zope.interface.Invalid: with a message that says what to enter.
    """
    from datetime import date

    if value is not None and value > date.today():
        raise InvalidSetting(
            _(
                "error_maintenance_restore_date",
                default="${value} is in the future: enter the day the last "
                "restore test was done, or leave it empty if none was.",
                mapping={"value": value.isoformat()},
            )
        )
    return True


class IMaintenanceSettings(model.Schema):
    """Settings of the update, configuration and backup checks."""

    model.fieldset(
        "maintenance",
        label=_("label_maintenance_fieldset", default="Backups and updates"),
        fields=[
            "backups_locations",
            "backups_max_age_hours",
            "maintenance_last_restore_test",
        ],
    )

    backups_locations = schema.List(
        title=_("label_backups_locations", default="Backup locations"),
        description=_(
            "help_backups_locations",
            default="Directories where backups of the database and the blobs "
            "are kept, one per line. Relative paths start at the instance's "
            "base directory, the one that holds its var directory. The "
            "defaults are those of collective.recipe.backup; repozo writes "
            "*.fs, *.fsz, *.deltafs and *.dat files. A location whose name "
            "contains 'blob' holds blob backups.",
        ),
        value_type=schema.TextLine(constraint=backups_location),
        default=list(BACKUPS_DEFAULT_LOCATIONS),
        missing_value=[],
        required=False,
    )

    backups_max_age_hours = schema.Int(
        title=_("label_backups_max_age_hours", default="Maximum backup age (hours)"),
        description=_(
            "help_backups_max_age_hours",
            default="The newest backup may be this old before the report "
            "says backups have stopped. 26 hours suits a daily backup.",
        ),
        default=26,
        constraint=backups_max_age,
        required=True,
    )

    maintenance_last_restore_test = schema.Date(
        title=_(
            "label_maintenance_last_restore_test",
            default="Last restore test",
        ),
        description=_(
            "help_maintenance_last_restore_test",
            default="The day a backup was last restored on another machine "
            "to check that it works. The report reminds you after 90 days.",
        ),
        constraint=maintenance_restore_date,
        required=False,
    )


def securitytxt_contact(value):
    """Constraint of one security contact: a mailto:, https: or tel: URI.

    :raises zope.interface.Invalid: with a message that says what to enter.
    """
    from collective.securitybp.securitytxt import valid_contact

    if not valid_contact(value):
        raise InvalidSetting(
            _(
                "error_securitytxt_contact",
                default="${value} is not a contact security.txt can publish: "
                "enter mailto:security@example.org, an https:// address of a "
                "form or page, or tel:+1-201-555-0123, one per line.",
                mapping={"value": value},
            )
        )
    return True


def securitytxt_url(value):
    """Constraint of the policy and acknowledgements addresses: https.

    :raises zope.interface.Invalid: with a message that says what to enter.
    """
    from collective.securitybp.securitytxt import valid_https

    if value and not valid_https(value):
        raise InvalidSetting(
            _(
                "error_securitytxt_url",
                default="${value} cannot be published: enter an https:// "
                "address without spaces.",
                mapping={"value": value},
            )
        )
    return True


def securitytxt_languages(value):
    """Constraint of the preferred languages: language tags and commas.

    :raises zope.interface.Invalid: with a message that says what to enter.
    """
    from collective.securitybp.securitytxt import valid_languages

    if value and not valid_languages(value):
        raise InvalidSetting(
            _(
                "error_securitytxt_languages",
                default="Enter language tags separated by commas, for "
                "example: en, de, fr-CA.",
            )
        )
    return True


class ISecurityContactSettings(model.Schema):
    """The security contact published at /.well-known/security.txt."""

    model.fieldset(
        "securitytxt",
        label=_("label_securitytxt_fieldset", default="Security contact"),
        fields=[
            "securitytxt_contact",
            "securitytxt_expires",
            "securitytxt_policy",
            "securitytxt_acknowledgments",
            "securitytxt_languages",
        ],
    )

    securitytxt_contact = schema.List(
        title=_("label_securitytxt_contact", default="Security contacts"),
        description=_(
            "help_securitytxt_contact",
            default="Where people report vulnerabilities of this site, one "
            "per line, most preferred first: mailto:security@example.org, an "
            "https:// address or tel:. When set, the site publishes them at "
            "/.well-known/security.txt (RFC 9116), unless another add-on "
            "already publishes that file.",
        ),
        value_type=schema.TextLine(constraint=securitytxt_contact),
        default=[],
        missing_value=[],
        required=False,
    )

    securitytxt_expires = schema.Date(
        title=_("label_securitytxt_expires", default="Valid until"),
        description=_(
            "help_securitytxt_expires",
            default="security.txt must say until when its contents are "
            "valid; less than a year ahead is recommended. The report warns "
            "30 days before.",
        ),
        required=False,
    )

    securitytxt_policy = schema.TextLine(
        title=_("label_securitytxt_policy", default="Security policy"),
        description=_(
            "help_securitytxt_policy",
            default="Optional https:// address of your vulnerability "
            "disclosure policy.",
        ),
        default="",
        missing_value="",
        required=False,
        constraint=securitytxt_url,
    )

    securitytxt_acknowledgments = schema.TextLine(
        title=_("label_securitytxt_acknowledgments", default="Acknowledgements"),
        description=_(
            "help_securitytxt_acknowledgments",
            default="Optional https:// address of the page that thanks reporters.",
        ),
        default="",
        missing_value="",
        required=False,
        constraint=securitytxt_url,
    )

    securitytxt_languages = schema.TextLine(
        title=_("label_securitytxt_languages", default="Preferred languages"),
        description=_(
            "help_securitytxt_languages",
            default="Optional languages for reports, separated by commas, "
            "for example: en, de.",
        ),
        default="",
        missing_value="",
        required=False,
        constraint=securitytxt_languages,
    )

    @invariant
    def securitytxt_needs_expiry(data):
        from collective.securitybp.securitytxt import expiry_invariant

        expiry_invariant(data)


class ISecuritySettings(
    IAuditSettings,
    IPrivilegeSettings,
    IHeaderSettings,
    IZMIGuardSettings,
    IMaintenanceSettings,
    ISecurityContactSettings,
):
    """Every setting of the add-on, stored in the registry."""
