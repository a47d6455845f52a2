"""Acknowledgements: a person's decision to silence one finding.

They are kept in an annotation of the Plone site as plain dictionaries of
strings, so that uninstalling the add-on leaves no class behind. Reading
never creates the annotation; only :meth:`AcknowledgementStore.add` and
:meth:`AcknowledgementStore.remove` write, and they are called from POST
requests protected by a CSRF token.
"""

from collective.securitybp import _
from dataclasses import dataclass
from datetime import date
from datetime import datetime
from persistent.mapping import PersistentMapping
from zope.annotation.interfaces import IAnnotations


ANNOTATION_KEY = "collective.securitybp.acknowledgements"
MAX_REASON_LENGTH = 2000


class AcknowledgementError(ValueError):
    """An acknowledgement was refused; the message says how to fix it."""


@dataclass(frozen=True)
class Acknowledgement:
    """Who silenced which finding, when, why, and for how long."""

    check_id: str
    subject: str
    reason: str
    who: str
    when: datetime
    until: date = None
    fingerprint: str = None  # set when it lasts only until the finding changes

    @property
    def key(self):
        return f"{self.check_id}|{self.subject}"

    def expired(self, today):
        return self.until is not None and today > self.until

    def covers(self, finding, today):
        """True when this acknowledgement silences ``finding`` on ``today``."""
        if finding.key != self.key or self.expired(today):
            return False
        return self.fingerprint is None or self.fingerprint == finding.fingerprint

    def to_dict(self):
        return {
            "check_id": self.check_id,
            "subject": self.subject,
            "reason": self.reason,
            "who": self.who,
            "when": self.when.isoformat(),
            "until": self.until.isoformat() if self.until else None,
            "until_changed": self.fingerprint is not None,
        }

    @classmethod
    def from_dict(cls, data):
        until = data.get("until")
        return cls(
            check_id=data["check_id"],
            subject=data.get("subject", ""),
            reason=data.get("reason", ""),
            who=data.get("who", ""),
            when=datetime.fromisoformat(data["when"]),
            until=date.fromisoformat(until) if until else None,
            fingerprint=data.get("fingerprint") or None,
        )


def parse_until(value, today):
    """Parse the optional end date typed into the form.

    :param value: ``""`` or an ISO date such as ``2027-01-31``.
    :param today: the current date; the end date may not lie before it.
    :returns: a :class:`datetime.date` or None.
    :raises AcknowledgementError: the value is not a date, or lies in the past.
    """
    value = (value or "").strip()
    if not value:
        return None
    try:
        until = date.fromisoformat(value)
    except ValueError:
        raise AcknowledgementError(
            _(
                "error_until_not_a_date",
                default="'${value}' is not a date: write it as YYYY-MM-DD, "
                "or leave it empty.",
                mapping={"value": value},
            )
        ) from None
    if until < today:
        raise AcknowledgementError(
            _(
                "error_until_in_past",
                default="The end date ${until} is in the past: choose today "
                "or a later date, or leave it empty.",
                mapping={"until": until.isoformat()},
            )
        )
    return until


class AcknowledgementStore:
    """Read and change the acknowledgements of one Plone site."""

    def __init__(self, site):
        self.site = site

    def _stored(self):
        return IAnnotations(self.site).get(ANNOTATION_KEY, {})

    def all(self):
        """Every stored acknowledgement, keyed by finding key."""
        result = {}
        for key, data in self._stored().items():
            result[key] = Acknowledgement.from_dict(dict(data))
        return result

    def add(self, finding, reason, who, now, until=None, until_changed=False):
        """Acknowledge ``finding``; replaces an earlier acknowledgement of it.

        :raises AcknowledgementError: no reason given, or a reason too long.
        :returns: the new :class:`Acknowledgement`.
        """
        reason = (reason or "").strip()
        if not reason:
            raise AcknowledgementError(
                _(
                    "error_reason_required",
                    default="Say why this finding may be silenced: the "
                    "reason is required.",
                )
            )
        if len(reason) > MAX_REASON_LENGTH:
            raise AcknowledgementError(
                _(
                    "error_reason_too_long",
                    default="The reason is too long: keep it under ${limit} "
                    "characters.",
                    mapping={"limit": MAX_REASON_LENGTH},
                )
            )
        ack = Acknowledgement(
            check_id=finding.check_id,
            subject=finding.subject,
            reason=reason,
            who=who,
            when=now,
            until=until,
            fingerprint=finding.fingerprint if until_changed else None,
        )
        annotations = IAnnotations(self.site)
        stored = annotations.get(ANNOTATION_KEY)
        if stored is None:
            stored = annotations[ANNOTATION_KEY] = PersistentMapping()
        data = ack.to_dict()
        data.pop("until_changed")
        data["fingerprint"] = ack.fingerprint or ""
        stored[ack.key] = data
        return ack

    def remove(self, key):
        """Withdraw the acknowledgement of the finding with ``key``.

        :raises AcknowledgementError: there is none.
        """
        stored = IAnnotations(self.site).get(ANNOTATION_KEY)
        if not stored or key not in stored:
            raise AcknowledgementError(
                _(
                    "error_not_acknowledged",
                    default="That finding is not acknowledged (any more): "
                    "reload the report.",
                )
            )
        del stored[key]

    def clear(self):
        """Remove every acknowledgement (used when uninstalling)."""
        annotations = IAnnotations(self.site)
        if ANNOTATION_KEY in annotations:
            del annotations[ANNOTATION_KEY]
