"""collective.securitybp: audit and harden a Plone site from inside."""

import logging

from zope.i18nmessageid import MessageFactory

PACKAGE_NAME = "collective.securitybp"

_ = MessageFactory(PACKAGE_NAME)
logger = logging.getLogger(PACKAGE_NAME)
