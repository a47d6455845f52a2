"""A base class that makes writing a check short."""

from collective.securitybp.interfaces import ISecurityCheck
from collective.securitybp.model import Finding
from zope.interface import implementer


@implementer(ISecurityCheck)
class Check:
    """Subclasses set ``id``, ``title``, ``area``, ``severity``,
    ``reference`` and implement ``run(context)``. The class docstring is the
    check's documentation: rationale, an example finding, references.
    """

    id = None
    title = None
    area = None
    severity = None
    reference = None

    def finding(self, detail, remediation, subject="", severity=None, title=None):
        """A :class:`Finding` of this check."""
        return Finding(
            check_id=self.id,
            area=self.area,
            severity=severity or self.severity,
            title=title or self.title,
            detail=detail,
            remediation=remediation,
            reference=self.reference,
            subject=subject,
        )

    def run(self, context):  # pragma: no cover - every check overrides it
        raise NotImplementedError

    def __repr__(self):
        return f"<{type(self).__name__} {self.id}>"
