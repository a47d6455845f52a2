"""plone.restapi: ``GET @security-report`` and the ``@controlpanels`` entry."""

from collective.securitybp.audit import run_audit
from collective.securitybp.history import report_history
from collective.securitybp.interfaces import IBrowserLayer
from collective.securitybp.interfaces import ISecuritySettings
from plone.restapi.controlpanels import RegistryConfigletPanel
from plone.restapi.services import Service
from zope.component import adapter
from zope.interface import Interface


class SecurityReportGet(Service):
    """The site's security report, the same data as ``@@security-report.json``."""

    def reply(self):
        report = run_audit(self.context)
        data = report.to_dict(self.request, site_url=self.context.absolute_url())
        data["history"] = report_history(self.context, report)
        data["@id"] = f"{self.context.absolute_url()}/@security-report"
        self.request.response.setHeader("Cache-Control", "no-store")
        return data


@adapter(Interface, IBrowserLayer)
class SecuritySettingsControlpanel(RegistryConfigletPanel):
    """The add-on's settings under ``@controlpanels/securitybp``."""

    schema = ISecuritySettings
    schema_prefix = "collective.securitybp"
    configlet_id = "collective.securitybp"
    configlet_category_id = "plone-security"
