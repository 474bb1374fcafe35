"""plugbay — host plugbay plugins from Python: a thin layer over libplugbay (docs/host-python.md).

    import plugbay
    with plugbay.connect(name="my-app") as conn:
        print(conn.call("greet", "world"))          # Hello, world!
"""
from ._conn import AsyncStream, Connection, Notice, Stream, connect
from ._errors import (AlreadyExists, Busy, Cancelled, Crashed, Disconnected, Error, InvalidArgument, IOFailure,
                      KindConflict, ManifestError, NoProvider, NoSpace, NotFound, OutOfMemory, Pending,
                      PermissionDenied, PluginError, ProtocolError, StateError, TimedOut, Unavailable,
                      VersionMismatch, WrongType)

__all__ = ["connect", "Connection", "Notice", "Stream", "AsyncStream", "Error", "InvalidArgument", "OutOfMemory",
           "ProtocolError", "VersionMismatch", "NotFound", "NoProvider", "TimedOut", "Cancelled", "Crashed",
           "Unavailable", "PluginError", "Disconnected", "ManifestError", "StateError", "AlreadyExists",
           "PermissionDenied", "Busy", "WrongType", "IOFailure", "KindConflict", "Pending", "NoSpace"]
