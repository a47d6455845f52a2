"""Front-page throughput through a real WSGI server, with the add-on installed
in the site and without it, side by side in one run.

Starts the test fixture's Plone site behind the WSGI server of plone.testing
on 127.0.0.1 and requests its front page through a virtual-hosting URL for
an https public host, as a front proxy would (so HSTS and report-to are
sent too). "Installed" and "not installed" are the same site with the
add-on's browser layer registered or not: that layer is how every hot path
of the add-on knows it is installed, and switching it keeps everything else
(content, templates, caches) identical.

The load comes from a separate process on 127.0.0.1 with a fixed number of
clients, each on a keep-alive connection sending one request after the
other (bounded load). Short rounds with and without alternate in ABBA order
so both sides see the same noise of a shared machine; the throughput ratio
(with / without) is printed per ten pairs and in total.

The add-on must keep at least 98% of the throughput. Run with the
virtualenv's Python::

    .venv/bin/python benchmarks/bench_headers_throughput.py
"""

from _layers import set_up
from _layers import tear_down
from concurrent.futures import ThreadPoolExecutor
from statistics import median
import http.client
import logging
import subprocess
import sys
import time


CLIENTS = 2  # bounded load: two clients, each one request at a time
PAIRS = 40  # rounds with and without the add-on, in ABBA order
REQUESTS = 16  # per round: short rounds, so slow drifts of load cancel out
WARMUP = 30
MAX_SECONDS = 200  # stop early, with what was measured, after this long
LIMIT_RATIO = 0.98
LAYER_NAME = "collective.securitybp"


def client_process(port, path):
    """The load generator: reads a request count per line, answers seconds."""
    connections = [
        http.client.HTTPConnection("127.0.0.1", port) for _ in range(CLIENTS)
    ]
    pool = ThreadPoolExecutor(CLIENTS)

    def run(connection, count):
        for _ in range(count):
            connection.request("GET", path, headers={"Host": f"localhost:{port}"})
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"status {response.status}")

    for line in sys.stdin:
        count = int(line)
        started = time.perf_counter()
        list(pool.map(run, connections, [count // CLIENTS] * CLIENTS))
        print(time.perf_counter() - started, flush=True)


def main():
    from collective.securitybp.interfaces import IBrowserLayer
    from collective.securitybp.testing import FUNCTIONAL_TESTING
    from plone.browserlayer.utils import register_layer
    from plone.browserlayer.utils import unregister_layer
    from Products.SiteAccess.VirtualHostMonster import manage_addVirtualHostMonster
    from zope.component.hooks import setSite
    import requests
    import transaction

    logging.basicConfig(level=logging.WARNING)
    layers = set_up(FUNCTIONAL_TESTING)
    client = None
    try:
        app = FUNCTIONAL_TESTING["app"]
        portal = FUNCTIONAL_TESTING["portal"]
        if "virtual_hosting" not in app.objectIds():
            manage_addVirtualHostMonster(app)
        setSite(portal)
        transaction.commit()
        port = FUNCTIONAL_TESTING["port"]
        path = "/VirtualHostBase/https/www.example.com:443/plone/VirtualHostRoot/"
        url = f"http://127.0.0.1:{port}{path}"

        state = {"installed": True}

        def installed(yes):
            if state["installed"] == yes:
                return
            setSite(portal)
            if yes:
                register_layer(IBrowserLayer, LAYER_NAME)
            else:
                unregister_layer(LAYER_NAME)
            transaction.commit()
            state["installed"] = yes

        installed(False)
        assert (
            "Content-Security-Policy-Report-Only"
            not in requests.get(url, timeout=60).headers
        )
        installed(True)
        headers = requests.get(url, timeout=60).headers
        assert headers["Strict-Transport-Security"].startswith("max-age=")
        client = subprocess.Popen(
            [sys.executable, __file__, "--client", str(port), path],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

        def round_of(count):
            client.stdin.write(f"{count}\n")
            client.stdin.flush()
            return float(client.stdout.readline())

        # A single request first, so every template is compiled before the
        # load (CPython 3.11.7 can fail compiling one template in two threads).
        requests.get(url, timeout=60)
        for yes in (False, True):
            installed(yes)
            round_of(WARMUP)
        print(
            f"front page {url}\n{CLIENTS} clients in another process, {PAIRS} "
            f"pairs of rounds of {REQUESTS} requests, with/without the add-on "
            "in ABBA order"
        )
        seconds = {True: [], False: []}
        deadline = time.monotonic() + MAX_SECONDS
        for number in range(PAIRS):
            order = (True, False) if number % 2 == 0 else (False, True)
            for yes in order:
                installed(yes)
                seconds[yes].append(round_of(REQUESTS))
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
        pairs = list(zip(seconds[True], seconds[False], strict=True))
        rate_with = REQUESTS * len(pairs) / sum(p[0] for p in pairs)
        rate_without = REQUESTS * len(pairs) / sum(p[1] for p in pairs)
        ratio = rate_with / rate_without
        pair_ratio = median(p[1] / p[0] for p in pairs)
        print(
            f"total: {rate_with:.1f} r/s with the add-on, {rate_without:.1f} r/s "
            f"without: throughput ratio {ratio:.3f} (median of the "
            f"{len(pairs)} pair ratios {pair_ratio:.3f}; limit {LIMIT_RATIO})"
        )
        print("OK" if ratio >= LIMIT_RATIO else "BELOW LIMIT (noise?)")
        return 0 if ratio >= LIMIT_RATIO else 1
    finally:
        if client is not None:
            client.stdin.close()
            client.wait(timeout=60)
        tear_down(layers)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--client"]:
        client_process(int(sys.argv[2]), sys.argv[3])
    else:
        sys.exit(main())
