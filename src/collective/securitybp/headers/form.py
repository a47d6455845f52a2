"""The control panel widget of the HSTS max-age, with a clear message."""

from collective.securitybp import _
from z3c.form.browser.text import TextWidget
from z3c.form.error import ErrorViewMessage
from z3c.form.interfaces import IFieldWidget
from z3c.form.widget import FieldWidget
from zope.interface import implementer


class WholeNumberWidget(TextWidget):
    """A text widget for a number of seconds."""


@implementer(IFieldWidget)
def WholeNumberFieldWidget(field, request):
    return FieldWidget(field, WholeNumberWidget(request))


# "1.5" reaches the integer field as a plain ValueError, which z3c.form would
# show as "The system could not process the given value." (A discriminator on
# the field itself would mark the schema field, which plone.registry copies.)
NotWholeNumber = ErrorViewMessage(
    _(
        "max-age is a whole number of seconds, without a fraction: e.g. "
        "31536000 for a year."
    ),
    error=ValueError,
    widget=WholeNumberWidget,
)
