"""Helpers the benchmarks share."""


def layer_stack(layer, stack=None):
    """``layer`` and its bases, bases first, as a test runner sets them up."""
    stack = [] if stack is None else stack
    for base in layer.__bases__:
        layer_stack(base, stack)
    if layer not in stack:
        stack.append(layer)
    return stack
