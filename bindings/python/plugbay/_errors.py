"""plugbay/_errors.py — plugbay.Error and one subclass per BAY_E* code, made from a bay_error."""
from typing import Dict, Optional, Type


class Error(Exception):
    """A plugbay failure. code is the symbolic name ("BAY_ENOENT"), errno its number, plugin who failed
    ("example/hello", "host:NAME" or ""), message what happened and what to do."""

    code: str = "BAY_E?"
    errno: int = -1

    def __init__(self, message: str, plugin: str = "", code: Optional[str] = None,
                 errno: Optional[int] = None) -> None:
        super().__init__(message)
        self.message = message
        self.plugin = plugin
        if code is not None:
            self.code = code
        if errno is not None:
            self.errno = errno

    def __str__(self) -> str:
        who = f" from {self.plugin}" if self.plugin else ""
        return f"{self.code}{who}: {self.message}"


# One class per code, in bay_errno order (include/plugbay/error.h).


class InvalidArgument(Error):
    """BAY_EINVAL: an argument is invalid."""

    code = "BAY_EINVAL"
    errno = 1


class OutOfMemory(Error):
    """BAY_ENOMEM: out of memory."""

    code = "BAY_ENOMEM"
    errno = 2


class ProtocolError(Error):
    """BAY_EPROTO: a malformed or unexpected protocol frame."""

    code = "BAY_EPROTO"
    errno = 3


class VersionMismatch(Error):
    """BAY_EVERSION: the peer speaks another protocol version."""

    code = "BAY_EVERSION"
    errno = 4


class NotFound(Error):
    """BAY_ENOENT: no such extension point, plugin or command."""

    code = "BAY_ENOENT"
    errno = 5


class NoProvider(Error):
    """BAY_ENOPROVIDER: the extension point has no loaded provider for this call."""

    code = "BAY_ENOPROVIDER"
    errno = 6


class TimedOut(Error):
    """BAY_ETIMEDOUT: the call's deadline passed."""

    code = "BAY_ETIMEDOUT"
    errno = 7


class Cancelled(Error):
    """BAY_ECANCELED: the call was cancelled."""

    code = "BAY_ECANCELED"
    errno = 8


class Crashed(Error):
    """BAY_ECRASHED: the plugin's worker died during the call."""

    code = "BAY_ECRASHED"
    errno = 9


class Unavailable(Error):
    """BAY_EUNAVAIL: the plugin is not loaded, is unloading or has failed."""

    code = "BAY_EUNAVAIL"
    errno = 10


class PluginError(Error):
    """BAY_EPLUGIN: the plugin's code reported an error."""

    code = "BAY_EPLUGIN"
    errno = 11


class Disconnected(Error):
    """BAY_ECONN: the connection to plugbayd failed or was closed."""

    code = "BAY_ECONN"
    errno = 12


class ManifestError(Error):
    """BAY_EMANIFEST: a plugin manifest is invalid."""

    code = "BAY_EMANIFEST"
    errno = 13


class StateError(Error):
    """BAY_ESTATE: the operation does not fit the plugin's lifecycle state."""

    code = "BAY_ESTATE"
    errno = 14


class AlreadyExists(Error):
    """BAY_EEXIST: already declared, installed or provided."""

    code = "BAY_EEXIST"
    errno = 15


class PermissionDenied(Error):
    """BAY_EPERM: not permitted."""

    code = "BAY_EPERM"
    errno = 16


class Busy(Error):
    """BAY_EBUSY: a queue is full or a resource is in use; retry later."""

    code = "BAY_EBUSY"
    errno = 17


class WrongType(Error):
    """BAY_ETYPE: a value has the wrong type."""

    code = "BAY_ETYPE"
    errno = 18


class IOFailure(Error):
    """BAY_EIO: an operating-system or file error."""

    code = "BAY_EIO"
    errno = 19


class KindConflict(Error):
    """BAY_EKIND: extension point kind conflict (handle, event or filter)."""

    code = "BAY_EKIND"
    errno = 20


class Pending(Error):
    """BAY_EPENDING: the call has not ended yet."""

    code = "BAY_EPENDING"
    errno = 21


class NoSpace(Error):
    """BAY_ENOSPC: a plugin's storage is full."""

    code = "BAY_ENOSPC"
    errno = 22


BY_ERRNO: Dict[int, Type[Error]] = {cls.errno: cls for cls in Error.__subclasses__()}
NAMES = [cls.__name__ for cls in BY_ERRNO.values()]


def make(errno: int, plugin: str, message: str, code_name: str) -> Error:
    """make returns the Error subclass instance for errno (a plain Error for a code this module does not know)."""
    cls = BY_ERRNO.get(errno)
    if cls is None:
        return Error(message, plugin, code=code_name, errno=errno)
    return cls(message, plugin)
