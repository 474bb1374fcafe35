"""tests/plugins/python/stream/main.py — python/stream: plugbay.emit and plugbay.receive misused, generators ended early, and what they raise."""
import plugbay

MIB = b"x" * (1024 * 1024)

try:
    plugbay.emit(1)  # while the module is imported: no call is running
    OUTSIDE = "nothing raised"
except RuntimeError as e:
    OUTSIDE = str(e)

try:
    plugbay.receive()  # nor here
    RECEIVED_OUTSIDE = "nothing raised"
except RuntimeError as e:
    RECEIVED_OUTSIDE = str(e)

finished = []  # the generators whose finally ran


def outside():
    """pystream.outside() returns what plugbay.emit raised while the module was imported."""
    return OUTSIDE


def receive_outside():
    """pystream.receive_outside() returns what plugbay.receive raised while the module was imported."""
    return RECEIVED_OUTSIDE


def no_input():
    """pystream.no_input() iterates plugbay.inputs() in a call without input and returns the plugbay.Failure's code
    and message."""
    try:
        return [chunk for chunk in plugbay.inputs()]
    except plugbay.Failure as e:
        return {"code": e.code, "message": str(e)}


def bad():
    """pystream.bad() emits a set, which cannot cross a call."""
    plugbay.emit(1)
    plugbay.emit({1, 2})


def caught():
    """pystream.caught() emits a set and returns the TypeError it raises."""
    try:
        plugbay.emit({1, 2})
    except TypeError as e:
        return str(e)
    return "nothing raised"


def big(n):
    """pystream.big(n) emits n chunks of 1 MiB: past 16 MiB, a caller taking the answer whole cannot have them."""
    for _ in range(n):
        plugbay.emit(MIB)
    return "done"


def big_caught(n):
    """pystream.big_caught(n) is big(n) catching the plugbay.Failure, and returns its code and message."""
    try:
        big(n)
    except plugbay.Failure as e:
        return {"code": e.code, "message": str(e)}
    return "nothing raised"


def yield_bad():
    """pystream.yield_bad() yields 1, then a set."""
    try:
        yield 1
        yield {1, 2}
    finally:
        finished.append("yield_bad")


def yield_big(n):
    """pystream.yield_big(n) yields n chunks of 1 MiB."""
    try:
        for _ in range(n):
            yield MIB
    finally:
        finished.append("yield_big")
    return "done"


def closed():
    """pystream.closed() lists the generators whose finally ran."""
    return finished
