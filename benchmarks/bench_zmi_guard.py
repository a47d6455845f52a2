"""What the management guard adds to a request that is not management.

The guard's work on such a request: its ``IPubStart`` subscriber gives the
request a :class:`~collective.securitybp.zmi.guard.StepGuard`, and each name
of Zope's walk passes through it (a name test, a type test, then Zope's own
``traverseName``). This script sets up a real Plone site with a page at
``/plone/news/2024/annual-report`` (the guard's test sites, block mode) and
measures, in one run:

1. the subscriber alone, per request;
2. each step of the real walk to that page through the guard and without
   it, alternating (ABBA), both with Zope's recorded answer for that step,
   so the difference is the guard's own work per step; summed over the walk;
3. whole ``request.traverse()`` calls of fresh requests with and without the
   guard, alternating, as a ratio (informative: a walk costs far more than
   the guard, so this ratio is mostly noise).

The guard must add under 10 µs to a non-management request (1 + 2). Run
with the virtualenv's Python::

    .venv/bin/python benchmarks/bench_zmi_guard.py
"""

from _layers import set_up
from _layers import tear_down
from collective.securitybp.testing import GUARD_FIXTURE
from collective.securitybp.zmi import guard as guard_module
from collective.securitybp.zmi.guard import on_pub_start
from collective.securitybp.zmi.guard import StepGuard
from io import BytesIO
from plone import api
from plone.app.testing import IntegrationTesting
from plone.app.testing import setRoles
from plone.app.testing import TEST_USER_ID
from statistics import median
from zope.component.hooks import setSite
from ZPublisher.BaseRequest import BaseRequest
from ZPublisher.HTTPRequest import WSGIRequest
from ZPublisher.HTTPResponse import WSGIResponse
from ZPublisher.pubevents import PubStart
import sys
import time
import timeit


LIMIT_MICROSECONDS = 10.0
NUMBER = 20_000
ROUNDS = 9
WALKS = 300
LAYER = IntegrationTesting(bases=(GUARD_FIXTURE,), name="bench_zmi_guard")
PAGE = "/plone/news/2024/annual-report"


def make_request(app, path=PAGE):
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "www.example.com",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "www.example.com",
        "HTTP_ACCEPT": "text/html,application/xhtml+xml",
        "wsgi.url_scheme": "http",
        "wsgi.input": BytesIO(b""),
    }
    request = WSGIRequest(environ["wsgi.input"], environ, WSGIResponse())
    request.processInputs()
    request["PARENTS"] = [app]
    return request


def per_call(statement, number=NUMBER):
    """Median µs per call over ROUNDS repeats."""
    return median(timeit.repeat(statement, number=number, repeat=ROUNDS)) / number * 1e6


def recorded_steps(app):
    """The (object, name) pairs of one real walk to the page."""
    request = make_request(app)
    steps = []

    def recording(ob, name):
        steps.append((ob, name))
        return BaseRequest.traverseName(request, ob, name)

    request.traverseName = recording
    request.traverse(PAGE)
    return steps, request


def walk(app, guarded):
    request = make_request(app)
    if guarded:
        on_pub_start(PubStart(request))
    started = time.perf_counter()
    request.traverse(PAGE)
    elapsed = time.perf_counter() - started
    request.close()
    return elapsed


def main():
    layers = set_up(LAYER)
    try:
        app, portal = LAYER["app"], LAYER["portal"]
        setSite(portal)
        setRoles(portal, TEST_USER_ID, ["Manager"])
        news = api.content.create(portal, "Folder", id="news", title="News")
        year = api.content.create(news, "Folder", id="2024", title="2024")
        api.content.create(year, "Document", id="annual-report", title="Report")

        request = make_request(app)
        event = PubStart(request)
        subscriber = per_call(lambda: on_pub_start(event))

        steps, walked = recorded_steps(app)
        walked.path = []  # as at the last name, where the WebDAV test runs
        walked._post_traverse = []  # as inside Zope's walk
        guard = StepGuard(walked, "GET")
        # Zope's own traverseName costs 10-50 µs a step and varies more than
        # the guard costs; so both sides call the same recorded result of it,
        # and the difference is the guard's own work.
        results = {
            (id(ob), name): BaseRequest.traverseName(walked, ob, name)
            for ob, name in steps
        }

        def recorded(request, ob, name):
            return results[(id(ob), name)]

        real = guard_module._traverse_name
        guard_module._traverse_name = recorded
        print(f"walk to {PAGE}: {len(steps)} steps")
        print(f"{'step':22} {'zope':>9} {'guard':>9} {'added':>8}")
        total_steps = 0.0
        try:
            for ob, name in steps:
                plain, guarded = [], []

                def zope(ob=ob, name=name):
                    return recorded(walked, ob, name)

                def through_guard(ob=ob, name=name):
                    return guard(ob, name)

                for _ in range(ROUNDS):  # ABBA
                    plain.append(per_call(zope))
                    guarded.append(per_call(through_guard))
                    guarded.append(per_call(through_guard))
                    plain.append(per_call(zope))
                added = median(guarded) - median(plain)
                total_steps += max(added, 0.0)
                print(
                    f"{name:22} {median(plain):7.3f}µs {median(guarded):7.3f}µs "
                    f"{added:6.3f}µs"
                )
        finally:
            guard_module._traverse_name = real

        with_guard, without = [], []
        for _ in range(WALKS // 2):
            without.append(walk(app, False))
            with_guard.append(walk(app, True))
            with_guard.append(walk(app, True))
            without.append(walk(app, False))
        ratio = median(without) / median(with_guard)
        added = subscriber + total_steps
        print(f"subscriber per request: {subscriber:.3f} µs")
        print(f"steps of the walk together: {total_steps:.3f} µs")
        print(
            f"whole walks: {median(without) * 1e6:.1f} µs without, "
            f"{median(with_guard) * 1e6:.1f} µs with the guard "
            f"(speed ratio {ratio:.3f}, informative)"
        )
        verdict = "OK" if added < LIMIT_MICROSECONDS else "TOO SLOW"
        print(
            f"guard cost on a page request: {added:.3f} µs "
            f"(limit {LIMIT_MICROSECONDS:.0f} µs): {verdict}"
        )
        return 0 if added < LIMIT_MICROSECONDS else 1
    finally:
        tear_down(layers)


if __name__ == "__main__":
    sys.exit(main())
