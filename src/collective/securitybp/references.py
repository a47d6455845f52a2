"""Section titles of Plone's Security Best Practices document.

A finding's ``reference`` is one of these, so every finding points at the
advice it comes from.
"""

MONITOR = "Monitor your systems"
BACKUPS = "Backups & Recovery tests"
UP_TO_DATE = "Keep your Plone up-to-date"
LOWEST_PRIVILEGES = "Work with the lowest amount of privileges necessary"
UNIX_ACCOUNTS = "Use dedicated Unix user accounts"
ZOPE_MANAGER = "'Zope Manager' User should not be used for daily work"
SITE_ADMINISTRATOR = "Use dedicated Plone 'Site Administrator' users"
LOCK_DOWN = "Lock down access to your Management components"
ACCESS_CONTROL = "Access control"
HEADERS = "set HTTP Security Headers"
SSH_TUNNELS = "Use caution when using SSH tunnels to access Management Interface"
MANAGE_DOMAIN = "Provide a dedicated manage domain"
SECURITY_INFORMATION = "Where to obtain and provide security information"
