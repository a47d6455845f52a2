"""collective.securitybp: audit and harden a Plone site from inside."""

from zope.i18nmessageid import MessageFactory
import logging


PACKAGE_NAME = "collective.securitybp"

_ = MessageFactory(PACKAGE_NAME)
logger = logging.getLogger(PACKAGE_NAME)
