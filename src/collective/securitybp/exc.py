"""Exceptions of collective.securitybp."""

from zope.i18n import translate
from zope.interface import Invalid


class InvalidSetting(Invalid):
    """A setting that cannot be used; its text says what to enter instead.

    ``args[0]`` is a translatable message, which the control panel form
    translates itself. ``str()`` gives its English text with the values
    filled in: that is what plone.restapi shows when ``PATCH
    @controlpanels`` refuses a value.
    """

    def __str__(self):
        return translate(self.args[0])
