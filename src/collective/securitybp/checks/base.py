"""A base class that makes writing a check short."""

from collective.securitybp.interfaces import ISecurityCheck
from collective.securitybp.model import Finding
from collective.securitybp.model import finding_key
from collective.securitybp.model import Link
from zope.interface import implementer


@implementer(ISecurityCheck)
class Check:
    """Subclasses set ``id``, ``title``, ``area``, ``severity``,
    ``reference`` and implement ``run(context)``. The class docstring is the
    check's documentation: rationale, an example finding, references.

    ``severity`` is the default severity; ``cases`` names every other
    severity a finding of the check can take (``{"report-only":
    Severity.LOW}``). Both are the one source the report, the command line
    and the README read: a finding asks for a case by name, and the audit
    refuses a severity its check does not declare.
    """

    id = None
    title = None
    area = None
    severity = None
    reference = None
    cases = {}

    def finding(
        self,
        detail,
        remediation,
        subject="",
        severity=None,
        title=None,
        case=None,
        commands=(),
        links=(),
        cause=None,
    ):
        """A :class:`Finding` of this check.

        :param case: a key of ``cases``: the finding takes its severity.
        :param commands: shell commands that carry out the remediation.
        :param links: :class:`Link` objects or ``(title, url)`` pairs.
        :param cause: ``(check_id, subject)`` of the finding this one
            follows from.
        """
        if case is not None:
            severity = self.cases[case]
        return Finding(
            check_id=self.id,
            area=self.area,
            severity=severity or self.severity,
            title=title or self.title,
            detail=detail,
            remediation=remediation,
            reference=self.reference,
            subject=subject,
            commands=tuple(commands),
            links=tuple(
                link if isinstance(link, Link) else Link(*link) for link in links
            ),
            cause=finding_key(*cause) if cause else "",
        )

    def run(self, context):  # pragma: no cover - every check overrides it
        raise NotImplementedError

    def __repr__(self):
        return f"<{type(self).__name__} {self.id}>"


def severity_text(check):
    """A check's severities as one line: the default, then each case
    (``"medium; report-only: low"``). Shown by ``securitybp checks`` and the
    README's table of checks alike."""
    cases = dict(getattr(check, "cases", None) or {})
    parts = [check.severity.label]
    parts += [f"{name}: {severity.label}" for name, severity in cases.items()]
    return "; ".join(parts)
