"""The OS sandbox of child processes (Code, Run command): Landlock, seccomp, dropped capabilities.

Standard library only (and few modules of it: it runs before every sandboxed command), and
importable by file path: the Code child loads it without importing ``glyphic_desktop``, and
``python -I -S sandbox.py [--read P]... [--write P]... [--device P]... -- PROGRAM ARGS...``
is the launcher of the Run command node (it restricts itself, then execs the program).

What :func:`restrict` does to the calling process (Linux; nothing elsewhere):

- **Landlock** (an allow list of file-system access): read and execute only under the
  policy's ``read`` paths, read and write only under its ``write`` paths (plus a few device
  files such as ``/dev/null``); everything else (the Glyphic data dir, the key file, the
  database socket dir, home, ``/tmp``) cannot be opened, listed or created. With Landlock
  ABI 6 the process can also not signal or reach abstract sockets outside its domain.
- **seccomp**: ``socket(AF_UNIX, ...)`` fails with EACCES (Landlock cannot stop a connect to
  a pathname unix socket such as the database's); ``open_by_handle_at`` too.
- **capabilities**: a root child drops every capability (bounding set included), so it
  cannot load kernel modules, read raw devices or get its powers back through ``execve``.

:func:`restrict` returns None when every part took effect, else one line saying why the
process is not sandboxed. The caller decides what to do with that (log it, or fail).
"""

from __future__ import annotations

import ctypes
import os
import struct
import sys
from _collections_abc import Iterable, Mapping  # already loaded by os: no import cost

# -- the environment ------------------------------------------------------------------

#: Variables a child always gets when the parent has them.
SAFE_ENV: tuple[str, ...] = (
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "LC_CTYPE",
    "LC_COLLATE",
    "LC_MESSAGES",
    "LC_MONETARY",
    "LC_NUMERIC",
    "LC_TIME",
    "TZ",
    "TMPDIR",
    "TEMP",
    "TMP",
    "TERM",
    "NO_COLOR",
    "LD_LIBRARY_PATH",  # some Python builds and programs do not start without it
    "DYLD_LIBRARY_PATH",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "SYSTEMROOT",
    "WINDIR",
    "COMSPEC",
    "PATHEXT",
)

#: Prefixes and names a child never gets, even when a workflow names them.
FORBIDDEN_ENV_PREFIXES: tuple[str, ...] = ("GLYPHIC_", "PG")
FORBIDDEN_ENV_NAMES: frozenset[str] = frozenset({"DATABASE_URL"})


def env_name_forbidden(name: str) -> bool:
    """Whether ``name`` may never reach a child: ``GLYPHIC_*``, ``PG*``, database URLs."""
    upper = name.upper()
    return (
        upper.startswith(FORBIDDEN_ENV_PREFIXES)
        or upper in FORBIDDEN_ENV_NAMES
        or upper.endswith("DATABASE_URL")
    )


def child_env(
    allowed: Iterable[str] = (),
    source: Mapping[str, str] | None = None,
    overrides: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The scrubbed environment of a child: :data:`SAFE_ENV` plus the ``allowed`` names.

    Names for which :func:`env_name_forbidden` holds are left out, whoever asks for them;
    ``overrides`` (values the workflow sets itself, a scratch ``TMPDIR``) come last.
    """
    source = os.environ if source is None else source
    env: dict[str, str] = {}
    for name in (*SAFE_ENV, *allowed):
        if isinstance(name, str) and name in source and not env_name_forbidden(name):
            env[name] = source[name]
    for name, value in (overrides or {}).items():
        if not env_name_forbidden(name):
            env[name] = value
    env.setdefault("PATH", os.defpath)
    return env


# -- the policy -----------------------------------------------------------------------


class Policy:
    """What a sandboxed process may touch: ``read`` (read + execute), ``write`` (read + write)."""

    def __init__(
        self,
        read: Iterable[str] = (),
        write: Iterable[str] = (),
        devices: Iterable[str] = (),
    ) -> None:
        self.read = list(read)
        self.write = list(write)
        self.devices = list(devices)

    def to_args(self) -> list[str]:
        """The policy as launcher arguments (``--read P --write P --device P``)."""
        args: list[str] = []
        for flag, paths in (("--read", self.read), ("--write", self.write)):
            for path in paths:
                args += [flag, path]
        for path in self.devices:
            args += ["--device", path]
        return args

    @classmethod
    def from_args(cls, argv: list[str]) -> tuple[Policy, list[str]]:
        """The policy :meth:`to_args` wrote, and the command after ``--``."""
        policy = cls()
        lists = {"--read": policy.read, "--write": policy.write, "--device": policy.devices}
        index = 0
        while index < len(argv) and argv[index] != "--":
            flag = argv[index]
            if flag not in lists or index + 1 >= len(argv):
                raise ValueError(f"unknown or incomplete launcher argument {flag!r}")
            lists[flag].append(argv[index + 1])
            index += 2
        return policy, argv[index + 1 :]


# -- Landlock -------------------------------------------------------------------------

_SYS_CREATE_RULESET = 444
_SYS_ADD_RULE = 445
_SYS_RESTRICT_SELF = 446
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1

_EXECUTE = 1 << 0
_WRITE_FILE = 1 << 1
_READ_FILE = 1 << 2
_READ_DIR = 1 << 3
_REMOVE_DIR = 1 << 4
_REMOVE_FILE = 1 << 5
_MAKE_CHAR = 1 << 6
_MAKE_DIR = 1 << 7
_MAKE_REG = 1 << 8
_MAKE_SOCK = 1 << 9
_MAKE_FIFO = 1 << 10
_MAKE_BLOCK = 1 << 11
_MAKE_SYM = 1 << 12
_REFER = 1 << 13  # ABI 2
_TRUNCATE = 1 << 14  # ABI 3
_IOCTL_DEV = 1 << 15  # ABI 5
_SCOPE_ABSTRACT_UNIX = 1 << 0  # ABI 6
_SCOPE_SIGNAL = 1 << 1  # ABI 6

_FILE_RIGHTS = _EXECUTE | _WRITE_FILE | _READ_FILE | _TRUNCATE | _IOCTL_DEV
_READ_RIGHTS = _EXECUTE | _READ_FILE | _READ_DIR
_WRITE_RIGHTS = (
    _READ_RIGHTS
    | _WRITE_FILE
    | _REMOVE_DIR
    | _REMOVE_FILE
    | _MAKE_DIR
    | _MAKE_REG
    | _MAKE_SOCK
    | _MAKE_FIFO
    | _MAKE_SYM
    | _REFER
    | _TRUNCATE
)
_DEVICE_RIGHTS = _READ_FILE | _WRITE_FILE | _TRUNCATE | _IOCTL_DEV


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:  # pragma: no cover - a Linux without a loadable libc
        return None


def landlock_abi() -> int:
    """The Landlock ABI version of this kernel (0: not available)."""
    libc = _libc()
    if libc is None:
        return 0
    version = libc.syscall(_SYS_CREATE_RULESET, None, ctypes.c_size_t(0), _CREATE_RULESET_VERSION)
    return version if version > 0 else 0


def _handled_fs(abi: int) -> int:
    handled = (1 << 13) - 1
    if abi >= 2:
        handled |= _REFER
    if abi >= 3:
        handled |= _TRUNCATE
    if abi >= 5:
        handled |= _IOCTL_DEV
    return handled


def _landlock(libc: ctypes.CDLL, abi: int, policy: Policy) -> str | None:
    handled = _handled_fs(abi)
    attr = _RulesetAttr(handled, 0, (_SCOPE_ABSTRACT_UNIX | _SCOPE_SIGNAL) if abi >= 6 else 0)
    size = 24 if abi >= 6 else (16 if abi >= 4 else 8)
    ruleset = libc.syscall(_SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), 0)
    if ruleset < 0:
        return f"Landlock refused a ruleset: {os.strerror(ctypes.get_errno())}"
    try:
        rules = [(path, _READ_RIGHTS) for path in policy.read]
        rules += [(path, _WRITE_RIGHTS) for path in policy.write]
        rules += [(path, _DEVICE_RIGHTS) for path in policy.devices]
        for path, rights in rules:
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue  # a path that does not exist grants nothing
            try:
                if not os.path.isdir(path):
                    rights &= _FILE_RIGHTS
                rule = _PathBeneath(rights & handled, fd)
                if libc.syscall(_SYS_ADD_RULE, ruleset, _RULE_PATH_BENEATH, ctypes.byref(rule), 0):
                    return f"Landlock refused a rule for {path}: {os.strerror(ctypes.get_errno())}"
            finally:
                os.close(fd)
        if libc.syscall(_SYS_RESTRICT_SELF, ruleset, 0):
            return f"Landlock refused to restrict the process: {os.strerror(ctypes.get_errno())}"
    finally:
        os.close(ruleset)
    return None


# -- seccomp: no AF_UNIX sockets, no open_by_handle_at --------------------------------

_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_SECCOMP = 22
_PR_CAPBSET_DROP = 24
_SECCOMP_MODE_FILTER = 2
_RET_ALLOW = 0x7FFF0000
_RET_EACCES = 0x00050000 | 13
_AUDIT_ARCH_I386 = 0x40000003
#: Per machine: (audit arch, socket, open_by_handle_at, also deny syscalls >= this).
_ARCHES = {
    "x86_64": (0xC000003E, 41, 304, 0x40000000),  # x32 numbers are denied outright
    "aarch64": (0xC00000B7, 198, 265, None),
}


class _SockFilter(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_uint16),
        ("jt", ctypes.c_uint8),
        ("jf", ctypes.c_uint8),
        ("k", ctypes.c_uint32),
    ]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_uint16), ("filter", ctypes.POINTER(_SockFilter))]


def _machine() -> str:
    return os.uname().machine


def _seccomp_program(machine: str) -> list[tuple[int, int, int, int]] | None:
    """The BPF program (code, jt, jf, k) for ``machine``, or None when it is not known."""
    known = _ARCHES.get(machine)
    if known is None:
        return None
    arch, socket_nr, by_handle_nr, deny_from = known
    ld, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06
    # Labels are resolved into relative jumps below.
    code: list[tuple[int, object, object, int]] = [
        (ld, 0, 0, 4),  # arch
        (jeq, 0, "other_arch", arch),
        (ld, 0, 0, 0),  # syscall number
        (jge, "deny", 0, deny_from if deny_from is not None else 0xFFFFFFFF),
        (jeq, "socket", 0, socket_nr),
        (jeq, "deny", "allow", by_handle_nr),
        ("socket", None, None, 0),
        (ld, 0, 0, 16),  # args[0], low 32 bits (little endian)
        (jeq, "deny", "allow", 1),  # AF_UNIX
        ("other_arch", None, None, 0),
        (jeq, 0, "allow", _AUDIT_ARCH_I386),
        (ld, 0, 0, 0),
        (jeq, "deny", 0, 102),  # socketcall
        (jeq, "deny", "allow", 359),  # socket
        ("allow", None, None, 0),
        (ret, 0, 0, _RET_ALLOW),
        ("deny", None, None, 0),
        (ret, 0, 0, _RET_EACCES),
    ]
    labels: dict[str, int] = {}
    program: list[tuple[int, object, object, int]] = []
    for op in code:
        if isinstance(op[0], str):
            labels[op[0]] = len(program)
        else:
            program.append(op)
    resolved = []
    for index, (op, jt, jf, k) in enumerate(program):
        jt_n = labels[jt] - index - 1 if isinstance(jt, str) else int(jt)  # type: ignore[arg-type]
        jf_n = labels[jf] - index - 1 if isinstance(jf, str) else int(jf)  # type: ignore[arg-type]
        resolved.append((int(op), jt_n, jf_n, k))
    return resolved


def _seccomp(libc: ctypes.CDLL) -> str | None:
    program = _seccomp_program(_machine())
    if program is None:
        return f"no seccomp filter for machine {_machine()!r}"
    filters = (_SockFilter * len(program))(*[_SockFilter(*op) for op in program])
    prog = _SockFprog(len(program), filters)
    if libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0):
        return f"seccomp refused the filter: {os.strerror(ctypes.get_errno())}"
    return None


# -- capabilities ---------------------------------------------------------------------

_SYS_CAPSET = {"x86_64": 126, "aarch64": 91}
_CAP_VERSION_3 = 0x20080522


def _drop_capabilities(libc: ctypes.CDLL) -> str | None:
    if os.geteuid() != 0:
        return None  # an unprivileged process holds none worth dropping
    for cap in range(64):
        libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0)  # EINVAL past the last one: ignored
    number = _SYS_CAPSET.get(_machine())
    if number is None:
        return f"cannot drop capabilities on machine {_machine()!r}"
    header = ctypes.create_string_buffer(struct.pack("Ii", _CAP_VERSION_3, 0))
    data = ctypes.create_string_buffer(bytes(24))  # two zeroed {effective, permitted, inheritable}
    if libc.syscall(number, header, data):
        return f"cannot drop capabilities: {os.strerror(ctypes.get_errno())}"
    return None


# -- together -------------------------------------------------------------------------


def restrict(policy: Policy) -> str | None:
    """Sandbox the calling process for good; None when done, else why it is not sandboxed."""
    libc = _libc()
    if libc is None:
        return f"the OS sandbox (Landlock) needs Linux, not {sys.platform}"
    abi = landlock_abi()
    if abi <= 0:
        return "this kernel has no Landlock (Linux 5.13+ with Landlock enabled is needed)"
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0):
        return f"cannot set no_new_privs: {os.strerror(ctypes.get_errno())}"
    for step in (lambda: _landlock(libc, abi, policy), lambda: _seccomp(libc)):
        problem = step()
        if problem:
            return problem
    return _drop_capabilities(libc)


#: How the launcher's own complaints start on stderr (before the program ever ran).
LAUNCHER_MARK = "glyphic sandbox: "


def main(argv: list[str]) -> int:
    """Launcher: ``sandbox.py [--read P]... [--write P]... [--device P]... -- PROGRAM [ARGS]``."""
    try:
        policy, command = Policy.from_args(argv)
    except ValueError as exc:
        print(f"{LAUNCHER_MARK}{exc}", file=sys.stderr)
        return 2
    if not command:
        print(f"{LAUNCHER_MARK}no program given (after --)", file=sys.stderr)
        return 2
    problem = restrict(policy)
    if problem:
        print(f"{LAUNCHER_MARK}{problem}", file=sys.stderr)
        return 126
    try:
        os.execv(command[0], command)
    except OSError as exc:
        print(f"{LAUNCHER_MARK}cannot run {command[0]}: {exc.strerror or exc}", file=sys.stderr)
        return 126 if isinstance(exc, PermissionError) else 127
    return 127  # pragma: no cover - execv does not return


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
