"""The ``@@security-report`` page, its JSON form, and acknowledging findings."""

from collective.securitybp import _
from collective.securitybp.acknowledgements import AcknowledgementError
from collective.securitybp.acknowledgements import AcknowledgementStore
from collective.securitybp.acknowledgements import parse_until
from collective.securitybp.audit import run_audit
from collective.securitybp.history import report_history
from collective.securitybp.history import trend_svg
from collective.securitybp.model import Severity
from datetime import datetime
from datetime import timezone
from plone import api
from plone.protect.authenticator import check as check_authenticator
from Products.Five.browser import BrowserView
from Products.Five.browser.pagetemplatefile import ViewPageTemplateFile
from Products.statusmessages.interfaces import IStatusMessage
from zExceptions import MethodNotAllowed
from zope.i18n import translate
import json


MANAGE_PERMISSION = "collective.securitybp: Manage security settings"
SEVERITY_BADGES = {
    Severity.CRITICAL: "text-bg-danger",
    Severity.HIGH: "text-bg-danger",
    Severity.MEDIUM: "text-bg-warning",
    Severity.LOW: "text-bg-info",
    Severity.INFO: "text-bg-secondary",
}


def json_response(request, data):
    response = request.response
    response.setHeader("Content-Type", "application/json; charset=utf-8")
    response.setHeader("Cache-Control", "no-store")
    return json.dumps(data, indent=2, sort_keys=False)


class SecurityReportView(BrowserView):
    """The security report of the site, as HTML or (``?format=json``) JSON."""

    index = ViewPageTemplateFile("templates/report.pt")

    def __call__(self):
        self.report = run_audit(self.context)
        self.history = report_history(self.context, self.report)
        if self.request.form.get("format") == "json":
            return json_response(self.request, self.data())
        self.request.response.setHeader("Cache-Control", "no-store")
        return self.index()

    def data(self):
        """The report as JSON-ready data, with its history."""
        return dict(
            self.report.to_dict(site_url=self.context.absolute_url()),
            history=self.history,
        )

    def links(self, finding):
        """``{"title", "url"}`` of a finding's links, site paths made absolute."""
        site_url = self.context.absolute_url()
        return [
            {"title": link.title, "url": link.resolve(site_url)}
            for link in finding.links
        ]

    def trend_svg(self):
        return trend_svg(self.history["days"])

    def can_manage(self):
        return api.user.has_permission(MANAGE_PERMISSION, obj=self.context)

    def badge(self, severity):
        return SEVERITY_BADGES[severity]

    def severities(self):
        """Counts per severity, critical first, for the summary badges."""
        summary = self.report.summary
        return [
            {
                "label": severity.label,
                "count": summary[severity.label],
                "css": SEVERITY_BADGES[severity]
                if summary[severity.label]
                else "text-bg-light border",
            }
            for severity in sorted(Severity, reverse=True)
        ]

    def generated_at(self):
        return self.report.generated_at.strftime("%Y-%m-%d %H:%M:%S UTC")

    def failed_message(self):
        if self.report.fail_on is None:
            return None
        if self.report.failed:
            return _(
                "msg_report_failed",
                default="Findings at or above ${severity} need attention.",
                mapping={"severity": self.report.fail_on.label},
            )
        return None


class SecurityReportJSON(SecurityReportView):
    """``@@security-report.json``: the same report, always JSON."""

    def __call__(self):
        self.report = run_audit(self.context)
        self.history = report_history(self.context, self.report)
        return json_response(self.request, self.data())


class AcknowledgementBase(BrowserView):
    """POST handlers that change acknowledgements; a GET changes nothing."""

    def __call__(self):
        if self.request.method != "POST":
            raise MethodNotAllowed("Use the form on the security report (POST).")
        check_authenticator(self.request)
        messages = IStatusMessage(self.request)
        try:
            message = self.change(AcknowledgementStore(self.context))
        except AcknowledgementError as error:
            messages.add(translate(error.args[0], context=self.request), "error")
        else:
            messages.add(translate(message, context=self.request), "info")
        url = f"{self.context.absolute_url()}/@@security-report"
        self.request.response.redirect(url)
        return ""


class AcknowledgeView(AcknowledgementBase):
    """Acknowledge one current finding with a reason."""

    def change(self, store):
        form = self.request.form
        check_id = form.get("check_id", "")
        subject = form.get("subject", "")
        now = datetime.now(timezone.utc)
        until = parse_until(form.get("until"), now.date())
        report = run_audit(self.context, now=now)
        current = [
            f
            for f in report.findings
            if f.check_id == check_id and f.subject == subject
        ]
        if not current:
            raise AcknowledgementError(
                _(
                    "error_finding_gone",
                    default="That finding is not in the report any more "
                    "(fixed, or already acknowledged): nothing was changed.",
                )
            )
        ack = store.add(
            current[0],
            reason=form.get("reason"),
            who=api.user.get_current().getId(),
            now=now,
            until=until,
            until_changed=bool(form.get("until_changed")),
        )
        return _(
            "msg_acknowledged",
            default="Acknowledged ${check_id}: it no longer counts in the score.",
            mapping={"check_id": ack.check_id},
        )


class WithdrawView(AcknowledgementBase):
    """Withdraw an acknowledgement: the finding counts again."""

    def change(self, store):
        form = self.request.form
        key = f"{form.get('check_id', '')}|{form.get('subject', '')}"
        store.remove(key)
        return _(
            "msg_withdrawn",
            default="Acknowledgement withdrawn: the finding counts again.",
        )
