"""Front-page throughput through a real WSGI server, with and without the
ZMI guard, side by side in one run.

Starts the test fixture's Plone site (with collective.securitybp, the guard
in block mode with a manage host, as on a hardened production site) behind
the WSGI server of plone.testing on 127.0.0.1, and requests its front page
through a virtual-hosting URL for the public host, as a front proxy would.
Short rounds with the guard's ``IPubStart`` subscriber running and skipped
(a switch, see :func:`switched`) alternate in ABBA order, with a bounded
load (a fixed number of client threads sending one request after the
other), so both sides see the same noise of a shared machine. The
throughput ratio (with / without) is printed per ten pairs of rounds and
in total.

The guard must keep at least 99% of the throughput. Run with the
virtualenv's Python::

    .venv/bin/python benchmarks/bench_zmi_throughput.py
"""

from _layers import set_up
from _layers import tear_down
from collective.securitybp.testing import FUNCTIONAL_TESTING
from collective.securitybp.zmi.guard import on_pub_start
from concurrent.futures import ThreadPoolExecutor
from plone import api
from Products.SiteAccess.VirtualHostMonster import manage_addVirtualHostMonster
from statistics import median
from zope.component import getGlobalSiteManager
from zope.component import provideHandler
from ZPublisher.interfaces import IPubStart
import logging
import requests
import sys
import time
import transaction


CLIENTS = 2  # bounded load: two clients, each one request at a time
PAIRS = 50  # short rounds with and without the guard, in ABBA order
REQUESTS = 12  # per round: short rounds, so slow drifts of load cancel out
WARMUP = 30
MAX_SECONDS = 180  # stop early, with what was measured, after this long
LIMIT_RATIO = 0.99


ENABLED = [True]


def switched(event):
    """The guard's subscriber behind a switch.

    Registering and unregistering a handler for every round would change the
    global component registry, which empties zope.interface's lookup caches
    and slows the next requests of *both* sides. So one handler stays
    registered and a flag decides whether the guard runs: "without" then
    still pays one call of this function (a fraction of a microsecond, see
    bench_zmi_guard.py for the guard's full cost including dispatch).
    """
    if ENABLED[0]:
        on_pub_start(event)


def install_switch():
    getGlobalSiteManager().unregisterHandler(on_pub_start, (IPubStart,))
    provideHandler(switched, (IPubStart,))


def remove_switch():
    if getGlobalSiteManager().unregisterHandler(switched, (IPubStart,)):
        provideHandler(on_pub_start, (IPubStart,))


def guard(enabled):
    ENABLED[0] = enabled


def round_of(url, sessions, pool, count):
    """Seconds taken by ``count`` front-page requests from the clients."""

    def client(session, n):
        for _ in range(n):
            response = session.get(url, timeout=60)
            assert response.status_code == 200, response.status_code

    share = count // len(sessions)
    started = time.perf_counter()
    list(pool.map(client, sessions, [share] * len(sessions)))
    return time.perf_counter() - started


def main():
    logging.basicConfig(level=logging.WARNING)
    layers = set_up(FUNCTIONAL_TESTING)
    try:
        app = FUNCTIONAL_TESTING["app"]
        portal = FUNCTIONAL_TESTING["portal"]
        if "virtual_hosting" not in app.objectIds():
            manage_addVirtualHostMonster(app)
        from zope.component.hooks import setSite

        setSite(portal)
        api.portal.set_registry_record(
            "collective.securitybp.zmi_manage_hosts", ["manage.example.com"]
        )
        api.portal.set_registry_record("collective.securitybp.zmi_mode", "block")
        transaction.commit()
        server = f"http://{FUNCTIONAL_TESTING['host']}:{FUNCTIONAL_TESTING['port']}"
        public = f"{server}/VirtualHostBase/https/www.example.com:443/plone"
        url = f"{public}/VirtualHostRoot/"
        zmi = f"{public}/VirtualHostRoot/manage_main"
        install_switch()
        assert requests.get(zmi, timeout=60).status_code == 404, "guard not active"
        sessions = [requests.Session() for _ in range(CLIENTS)]
        pool = ThreadPoolExecutor(CLIENTS)
        # One client first: every template is compiled before the load
        # (CPython 3.11.7 can fail compiling the same template in two threads).
        round_of(url, sessions[:1], pool, WARMUP)
        round_of(url, sessions, pool, WARMUP)
        print(
            f"front page {url}\n{CLIENTS} clients, {PAIRS} pairs of rounds of "
            f"{REQUESTS} requests, with/without the guard in ABBA order"
        )
        seconds = {True: [], False: []}
        deadline = time.monotonic() + MAX_SECONDS
        for number in range(PAIRS):
            order = (True, False) if number % 2 == 0 else (False, True)
            for enabled in order:
                guard(enabled)
                seconds[enabled].append(round_of(url, sessions, pool, REQUESTS))
            guard(True)
            if (number + 1) % 10 == 0:
                done = number + 1
                rate_with = REQUESTS * 10 / sum(seconds[True][-10:])
                rate_without = REQUESTS * 10 / sum(seconds[False][-10:])
                print(
                    f"pairs {done - 9:>2}-{done:<2} {rate_with:7.1f} r/s with, "
                    f"{rate_without:7.1f} r/s without, ratio "
                    f"{rate_with / rate_without:.3f}"
                )
            if time.monotonic() > deadline:
                print("(time limit reached)")
                break
        pool.shutdown()
        pairs = list(zip(seconds[True], seconds[False], strict=True))
        assert requests.get(zmi, timeout=60).status_code == 404
        rate_with = REQUESTS * len(pairs) / sum(p[0] for p in pairs)
        rate_without = REQUESTS * len(pairs) / sum(p[1] for p in pairs)
        ratio = rate_with / rate_without
        pair_ratio = median(p[1] / p[0] for p in pairs)
        print(
            f"total: {rate_with:.1f} r/s with the guard, {rate_without:.1f} r/s "
            f"without: throughput ratio {ratio:.3f} (median of the "
            f"{len(pairs)} pair ratios {pair_ratio:.3f}; limit {LIMIT_RATIO})"
        )
        verdict = "OK" if ratio >= LIMIT_RATIO else "BELOW LIMIT (noise?)"
        print(verdict)
        return 0 if ratio >= LIMIT_RATIO else 1
    finally:
        remove_switch()
        tear_down(layers)


if __name__ == "__main__":
    sys.exit(main())
