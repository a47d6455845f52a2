#!/usr/bin/env python
"""Create and run the demo instance of collective.securitybp.

Used by ``make start`` (and by tests/test_cli.py with ``--create-only``)::

    .venv/bin/python scripts/demo_instance.py --dir instance \\
        --host 127.0.0.1 --port 8080

On the first run it creates a Zope WSGI instance in ``--dir``: its
configuration files, an ``admin`` Manager at the Zope root with a password
generated with :mod:`secrets` and kept in ``admin-password.txt`` (mode 0600),
and a classic-UI Plone site ``Plone`` with example content and the profile
``collective.securitybp:default`` installed. Later runs reuse the instance
and the site. It then prints where to go and how to log in, and serves the
instance in the foreground with ``runwsgi`` (unless ``--create-only``).

Run it with the Python of the virtualenv that has Plone and the add-on.
"""

from pathlib import Path
import argparse
import importlib.util
import os
import secrets
import socket
import sys
import traceback


SITE_ID = "Plone"
SITE_TITLE = "Security best practices demo"
ADMIN = "admin"
PROFILE = "collective.securitybp:default"
PASSWORD_FILE = "admin-password.txt"  # noqa: S105 - a file name

ZOPE_CONF = """\
# Zope configuration of the collective.securitybp demo instance.
# Written once by scripts/demo_instance.py; edit it if you like.
%define INSTANCE {instance}

instancehome $INSTANCE
clienthome $INSTANCE/var
debug-mode off
default-zpublisher-encoding utf-8

<environment>
  CHAMELEON_CACHE $INSTANCE/var/cache
</environment>

<zodb_db main>
  cache-size 30000
  <filestorage>
    path $INSTANCE/var/filestorage/Data.fs
    blob-dir $INSTANCE/var/blobstorage
  </filestorage>
  mount-point /
</zodb_db>
"""

SITE_ZCML = """\
<configure
    xmlns="http://namespaces.zope.org/zope"
    xmlns:meta="http://namespaces.zope.org/meta"
    xmlns:five="http://namespaces.zope.org/five"
    >

  <include package="Zope2.App" />
  <include package="Products.Five" />
  <meta:redefinePermission
      from="zope2.Public"
      to="zope.Public"
      />

  <five:loadProducts file="meta.zcml" />
  <five:loadProducts />
  <five:loadProductsOverrides />

  <securityPolicy component="AccessControl.security.SecurityPolicy" />

</configure>
"""

ZOPE_INI = """\
# WSGI configuration of the collective.securitybp demo instance.
# Rewritten by scripts/demo_instance.py on every `make start`, so that the
# HOST and PORT given to make are used: change them there.
[app:zope]
use = egg:Zope#main
zope_conf = %(here)s/zope.conf

[server:main]
use = egg:waitress#main
listen = {host}:{port}
threads = 2

[pipeline:main]
pipeline =
    egg:Zope#httpexceptions
    zope

[loggers]
keys = root, waitress.queue, waitress

[handlers]
keys = console, eventlog

[formatters]
keys = generic

[formatter_generic]
format = %(asctime)s %(levelname)s [%(name)s:%(lineno)s] %(message)s
datefmt = %Y-%m-%d %H:%M:%S

[logger_root]
level = INFO
handlers = console, eventlog

[logger_waitress.queue]
level = WARNING
handlers = eventlog
qualname = waitress.queue
propagate = 0

[logger_waitress]
level = INFO
handlers = console, eventlog
qualname = waitress
propagate = 0

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[handler_eventlog]
class = FileHandler
args = (r'{instance}/var/log/event.log', 'a')
level = NOTSET
formatter = generic
"""


class DemoError(Exception):
    """Something stops the demo; the message says how to fix it."""


class Instance:
    """The files of one demo instance."""

    def __init__(self, directory):
        self.dir = Path(directory).absolute()
        self.etc = self.dir / "etc"
        self.var = self.dir / "var"
        self.zope_conf = self.etc / "zope.conf"
        self.zope_ini = self.etc / "zope.ini"
        self.site_zcml = self.etc / "site.zcml"
        self.data_fs = self.var / "filestorage" / "Data.fs"
        self.password_file = self.dir / PASSWORD_FILE

    def exists(self):
        return self.zope_conf.exists()

    def write_configuration(self):
        """Create the directories and configuration files of a new instance."""
        for path in (
            self.etc,
            self.var / "filestorage",
            self.var / "blobstorage",
            self.var / "cache",
            self.var / "log",
        ):
            path.mkdir(parents=True, exist_ok=True)
        self.var.joinpath("blobstorage").chmod(0o700)
        self.zope_conf.write_text(ZOPE_CONF.format(instance=self.dir))
        self.site_zcml.write_text(SITE_ZCML)

    def write_server_configuration(self, host, port):
        """(Re)write zope.ini so that runwsgi listens on ``host:port``."""
        self.zope_ini.write_text(
            ZOPE_INI.format(host=host, port=port, instance=self.dir)
        )

    def new_password(self):
        """Generate the admin password and keep it in a file only we can read."""
        password = secrets.token_urlsafe(18)
        fd = os.open(self.password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as stream:
            stream.write(password + "\n")
        return password

    def password(self):
        """The admin password, or None when its file is gone."""
        try:
            return self.password_file.read_text().strip() or None
        except FileNotFoundError:
            return None

    def site_exists(self):
        """True when the database holds the Plone site, read without Zope.

        Opens the FileStorage read-only and looks at the ids of the objects
        in the Zope root, so no ZCML is loaded and nothing is written.
        """
        if not self.data_fs.exists():
            return False
        from ZODB.DB import DB
        from ZODB.FileStorage import FileStorage
        import logging

        # A rebuilt index after an interrupted first run is no news here.
        logging.getLogger("ZODB.FileStorage").setLevel(logging.ERROR)
        storage = FileStorage(str(self.data_fs), read_only=True)
        db = DB(storage)
        try:
            connection = db.open()
            app = connection.root().get("Application")
            ids = [item["id"] for item in getattr(app, "_objects", ())]
            connection.close()
        finally:
            db.close()
        return SITE_ID in ids


def start_zope(instance):
    """Start Zope in this process (writable), as the system user.

    :returns: the Zope application root, wrapped in a request.
    """
    from AccessControl.SecurityManagement import newSecurityManager
    from AccessControl.users import system
    from Testing.makerequest import makerequest
    from zope.globalrequest import setRequest
    from Zope2.Startup.run import make_wsgi_app
    import Zope2

    make_wsgi_app({}, str(instance.zope_conf))
    app = makerequest(Zope2.app())
    app.REQUEST["PARENTS"] = [app]
    setRequest(app.REQUEST)
    newSecurityManager(None, system)
    return app


def stop_zope():
    import transaction
    import Zope2

    transaction.abort()
    for db in Zope2.opened:
        db.close()


def add_admin(app, password):
    """Add the ``admin`` Manager to the Zope root user folder."""
    users = app.acl_users
    if users.getUser(ADMIN) is None:
        users._doAddUser(ADMIN, password, ["Manager"], [])
    else:
        users._doChangeUser(ADMIN, password, ["Manager"], [])


def create_site(app):
    """Create the classic-UI site with example content and the add-on."""
    from plone.base.utils import get_installer
    from plone.distribution.api import site as site_api
    from zope.component.hooks import setSite

    site = site_api.create(
        app,
        "classic",
        {
            "site_id": SITE_ID,
            "title": SITE_TITLE,
            "description": "A Plone site to try collective.securitybp.",
            "default_language": "en",
            "portal_timezone": "UTC",
            "setup_content": True,
        },
    )
    setSite(site)
    installer = get_installer(site, app.REQUEST)
    if not installer.install_product("collective.securitybp"):
        raise DemoError(f"Installing {PROFILE} in /{SITE_ID} failed: see above.")
    return site


def create(instance, quiet=False):
    """Create what is missing: configuration, admin user, site.

    :returns: True when something was created.
    """
    import logging
    import transaction

    def say(message):
        if not quiet:
            print(message, flush=True)

    new_instance = not instance.exists()
    if not new_instance and instance.site_exists():
        return False
    if importlib.util.find_spec("plone.classicui") is None:
        raise DemoError(
            "The demo site uses the 'classic' distribution of plone.classicui, "
            "which is not installed: run "
            f"{sys.executable} -m pip install -c constraints.txt plone.classicui"
        )
    if new_instance:
        say(f"Creating a Zope instance in {instance.dir}")
        instance.write_configuration()

    say(f"Creating the Plone site /{SITE_ID} (this takes a minute)")
    # Creating a site logs a screenful of harmless warnings: show errors only.
    logging.basicConfig(
        level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s"
    )
    app = start_zope(instance)
    try:
        if new_instance or app.acl_users.getUser(ADMIN) is None:
            password = instance.password()
            if password is None:
                password = instance.new_password()
            add_admin(app, password)
            transaction.commit()
        if SITE_ID not in app.objectIds():
            create_site(app)
            transaction.get().note(f"Installed {PROFILE} in /{SITE_ID}")
            transaction.commit()
    finally:
        stop_zope()
    return True


def port_is_free(host, port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def print_access(instance, host, port):
    password = instance.password()
    # Plone shows its unthemed view on 127.0.0.1 (plone.app.theming's host
    # name blacklist); localhost reaches the same server, themed.
    public = "localhost" if host == "127.0.0.1" else host
    base = f"http://{public}:{port}"
    print()
    print(f"  Site:            {base}/{SITE_ID}")
    print(f"  Security report: {base}/{SITE_ID}/@@security-report")
    print(f"  Zope root (ZMI): {base}/manage")
    print(f"  Login:           {ADMIN}")
    if password is None:
        print(
            f"  Password:        unknown: {instance.password_file} is missing; "
            f"set a new one with: bin/addzopeuser -c {instance.zope_conf} "
            f"{ADMIN} NEWPASSWORD"
        )
    else:
        print(f"  Password:        {password}")
        print(f"                   (kept in {instance.password_file})")
    print()
    sys.stdout.flush()


def main(argv=None):
    """Create the demo instance if needed, then serve it.

    :returns: the exit code: 0, or 2 when the demo cannot start.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", default="instance", help="instance directory")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument(
        "--create-only",
        action="store_true",
        help="create the instance and the site, then exit without serving",
    )
    parser.add_argument("--quiet", action="store_true", help="print nothing")
    args = parser.parse_args(argv)
    instance = Instance(args.dir)
    try:
        try:
            create(instance, quiet=args.quiet)
        except DemoError:
            raise
        except Exception:
            traceback.print_exc()
            raise DemoError(
                "creating the demo failed (traceback above); fix the cause and "
                "run it again: what was created is reused."
            ) from None
        instance.write_server_configuration(args.host, args.port)
        if args.create_only:
            return 0
        if not port_is_free(args.host, args.port):
            raise DemoError(
                f"{args.host}:{args.port} is already in use (is the demo "
                "already running?): stop that process, or choose another "
                "port, e.g. make start PORT=8081."
            )
    except DemoError as error:
        print(f"demo_instance: {error}", file=sys.stderr)
        return 2
    print_access(instance, args.host, args.port)
    runwsgi = Path(sys.executable).parent / "runwsgi"
    # Replace this process: runwsgi serves in the foreground, Ctrl-C stops it.
    os.execv(runwsgi, [str(runwsgi), str(instance.zope_ini)])  # noqa: S606


if __name__ == "__main__":
    sys.exit(main())
