"""The "Security best practices" control panel."""

from collective.securitybp import _
from collective.securitybp.interfaces import ISecuritySettings
from plone.app.registry.browser.controlpanel import ControlPanelFormWrapper
from plone.app.registry.browser.controlpanel import RegistryEditForm
from plone.z3cform import layout
from Products.Five.browser.pagetemplatefile import ViewPageTemplateFile


class SecuritySettingsForm(RegistryEditForm):
    schema = ISecuritySettings
    schema_prefix = "collective.securitybp"
    id = "securitybp-controlpanel"
    label = _("Security best practices")
    description = _(
        "help_controlpanel",
        default="Settings of the security audit and of the hardening. The "
        "findings themselves are on the security report.",
    )


class SecuritySettingsControlPanel(ControlPanelFormWrapper):
    form = SecuritySettingsForm
    index = ViewPageTemplateFile("templates/controlpanel.pt")


SecuritySettingsView = layout.wrap_form(
    SecuritySettingsForm, SecuritySettingsControlPanel
)
