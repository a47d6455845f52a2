"""Helpers the benchmarks share."""


def layer_stack(layer, stack=None):
    """``layer`` and its bases, bases first, as a test runner sets them up."""
    stack = [] if stack is None else stack
    for base in layer.__bases__:
        layer_stack(base, stack)
    if layer not in stack:
        stack.append(layer)
    return stack


def set_up(layer):
    """Set up ``layer`` with its bases and for one test, as a runner does.

    :returns: the layers, for :func:`tear_down`.
    """
    layers = layer_stack(layer)
    for each in layers:
        each.setUp()
    for each in layers:
        each.testSetUp()
    return layers


def tear_down(layers):
    """Undo :func:`set_up`."""
    for each in reversed(layers):
        each.testTearDown()
    for each in reversed(layers):
        each.tearDown()
