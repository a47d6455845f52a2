"""The ``securitybp:check`` ZCML directive.

Registering a check through this directive, rather than as a plain named
utility, validates its id when Zope starts: a malformed id raises a
ConfigurationError naming it, and two checks with the same id raise a
configuration conflict naming the id and both registrations.
"""

from collective.securitybp.interfaces import ISecurityCheck
from collective.securitybp.model import Severity
from collective.securitybp.model import validate_check_id
from zope.component.zcml import handler
from zope.configuration.exceptions import ConfigurationError
from zope.configuration.fields import GlobalObject
from zope.interface import Interface


class ICheckDirective(Interface):
    """Register a security check."""

    factory = GlobalObject(
        title="Check class",
        description="A class providing ISecurityCheck, called without arguments.",
        required=True,
    )


def check(_context, factory):
    name = f"{factory.__module__}.{getattr(factory, '__qualname__', factory)}"
    instance = factory()
    check_id = getattr(instance, "id", None)
    try:
        validate_check_id(check_id, getattr(instance, "area", None))
    except ValueError as error:
        raise ConfigurationError(f"{error} (check {name})") from None
    if not ISecurityCheck.providedBy(instance):
        raise ConfigurationError(
            f"Check {check_id} ({name}) does not provide ISecurityCheck: "
            "decorate the class with @implementer(ISecurityCheck)."
        )
    if not isinstance(getattr(instance, "severity", None), Severity):
        raise ConfigurationError(
            f"Check {check_id} ({name}) needs a default severity, a "
            "collective.securitybp.model.Severity."
        )
    title = getattr(instance, "title", "") or ""
    if not title or len(title) >= 80 or "\n" in title:
        raise ConfigurationError(
            f"Check {check_id} ({name}) needs a one-line title under 80 characters."
        )
    _context.action(
        discriminator=("securitybp:check", check_id),
        callable=handler,
        args=("registerUtility", instance, ISecurityCheck, check_id),
    )
