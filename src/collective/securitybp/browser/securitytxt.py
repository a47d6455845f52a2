"""``/.well-known/security.txt``: the site's security contact (RFC 9116)."""

from collective.securitybp import securitytxt
from Products.Five.browser import BrowserView
from zExceptions import NotFound
from zope.interface import implementer
from zope.publisher.interfaces import IPublishTraverse


@implementer(IPublishTraverse)
class WellKnownView(BrowserView):
    """``.well-known``: publishes ``security.txt`` when a contact is set.

    When another add-on registered a ``.well-known`` view too, it answers
    instead: the file is served once, by whoever was there first.
    """

    def publishTraverse(self, request, name):
        other = securitytxt.other_provider(self.context, request)
        if other is not None:
            return other(self.context, request).publishTraverse(request, name)
        if name == securitytxt.FILE_NAME:
            page = SecurityTxtView(self.context, request)
            if page.text() is not None:
                return page
        raise NotFound(name)

    def __call__(self):
        raise NotFound(securitytxt.WELL_KNOWN)


class SecurityTxtView(BrowserView):
    """The security contact as text/plain."""

    __roles__ = None  # public, like the file it stands for
    _text = False

    def text(self):
        if self._text is False:
            canonical = self.context.absolute_url() + securitytxt.PATH
            self._text = securitytxt.render(
                securitytxt.settings(self.context), canonical
            )
        return self._text

    def __call__(self):
        text = self.text()
        if text is None:
            raise NotFound(securitytxt.FILE_NAME)
        response = self.request.response
        response.setHeader("Content-Type", "text/plain; charset=utf-8")
        response.setHeader("Cache-Control", "max-age=3600")
        return text
