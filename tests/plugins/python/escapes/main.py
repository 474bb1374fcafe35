"""tests/plugins/python/escapes/main.py — python/escapes: escape attempts the policy refuses while the plugin runs, runaway calls, and the values that cross a call."""
import time

import plugbay


def ping():
    return "pong"


def read_passwd():
    with open("/etc/passwd") as f:
        return f.read()


def getattr_globals():
    return getattr(ping, "__glo" + "bals__")


def type_lambda():
    function = type(lambda: 0)
    return function(ping, {})


def format_dunder():
    return "{0.__class__}".format(ping)


def write_data(text):
    with open(plugbay.data_dir + "/note.txt", "w") as f:
        f.write(text)
    with open(plugbay.data_dir + "/note.txt") as f:
        return f.read()


def spin():
    while True:
        pass


def spin_catching():
    while True:
        try:
            while True:
                pass
        except Exception:  # the stop is no Exception: it gets through
            pass


def sleep(seconds):
    time.sleep(seconds)
    return "woke"


def hog():
    blocks = []
    while True:
        blocks.append(bytearray(1 << 20))


def hog_small():
    items = []
    while True:
        items.append([len(items)])


def check(n):
    if n < 0:
        raise ValueError(f"n must not be negative, got {n}")
    return n


def fail():
    return check(-1)


def echo(*args):
    return list(args)


def big():
    return 2 ** 70


def a_set():
    return {"a": {1, 2}}


def call(name, *args):
    try:
        return plugbay.call(name, *args)
    except plugbay.CallError as e:
        return {"error": str(e), "code": e.code, "name": e.name, "plugin": e.plugin}


def running():
    return {"name": plugbay.call_name(), "context": plugbay.context(), "cancelled": plugbay.cancelled(),
            "remaining_ms": plugbay.remaining_ms(), "id": plugbay.id}


def library():
    """Imports every module the policy allows, under the armed audit hook, and uses each once."""
    import base64, binascii, bisect, calendar, cmath, collections.abc, copy, csv, datetime, decimal
    import difflib, enum, fractions, functools, hashlib, heapq, hmac, html, io, ipaddress, itertools
    import json, math, os.path, random, re, secrets, statistics, struct, textwrap, unicodedata
    import urllib.parse, uuid, zlib

    out = io.StringIO()
    csv.writer(out).writerow(["a", 1])
    point = collections.namedtuple("Point", "x y")(1, 2)
    color = enum.Enum("Color", "RED GREEN")
    return [
        base64.b64encode(b"ok").decode(), binascii.hexlify(b"\x01").decode(), bisect.bisect([1, 3], 2),
        calendar.isleap(2024), abs(cmath.sqrt(-1)), isinstance({}, collections.abc.Mapping),
        copy.deepcopy([point._asdict()]), out.getvalue(), datetime.date(2026, 11, 23).isoformat(),
        str(decimal.Decimal("1.10") + 1), difflib.SequenceMatcher(None, "ab", "abc").ratio() > 0,
        color.RED.name, str(fractions.Fraction(1, 3)), functools.reduce(lambda a, b: a + b, [1, 2, 3]),
        hashlib.sha256(b"").hexdigest()[:8], heapq.nsmallest(1, [3, 1]), hmac.new(b"k", b"m", "sha256").digest() != b"",
        html.escape("<"), str(ipaddress.ip_address("127.0.0.1")), list(itertools.islice(itertools.count(), 2)),
        json.loads("[1]"), math.floor(1.5), os.path.join("a", "b"), random.Random(1).randint(1, 1),
        re.sub("a", "b", "a"), len(secrets.token_hex(4)), statistics.mean([1, 3]), struct.pack("<H", 1).hex(),
        textwrap.shorten("a b c d e f", 9), time.time() > 0, unicodedata.name("a"), urllib.parse.quote("a b"),
        uuid.uuid4().version, zlib.crc32(b"x"),
    ]
