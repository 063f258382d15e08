"""Each environment's /tmp: a disk of its own, not memory.

At the namespace level (root) an environment's /tmp is an ext4 file system on a loop device, as
large as the function's ``EphemeralStorage``: writing past it gets ``ENOSPC``, and what it holds
is the page cache of a disk, which the kernel writes back and reclaims within the environment's
memory limit. (A tmpfs's pages are memory charged to the environment's cgroup: a 256 MB function
writing 200 MB to a tmpfs /tmp was killed as out of memory.)

Supervisor side, ``ScratchDisks``: per size, an image is made once with ``mkfs.ext4`` (sparse: the
file systems' metadata only, ~400 KB for 512 MB, sized so that exactly the ephemeral storage is
free), its root left empty and mode 1777 like a host's /tmp. Each disk is a sparse copy of it,
attached to a loop device (``LO_FLAGS_AUTOCLEAR``, direct I/O so the host's page cache holds no
second copy), its file unlinked at once, and mounted *detached* with the new mount API
(``fsopen``/``fsmount``, nosuid and nodev): it is in no mount table and no path names it. A
background thread keeps a few ready for each size recently asked for, so nothing slow (mkfs, a
loop device) is on a cold start's path: ``spawn_process`` takes one (a descriptor) and sends it
on the environment's own channel ahead of the spawn request.

Environment side, ``mount_tmp``: inside its new mount namespace (forked from a template: inside
its nested, unprivileged user namespace, which owns that mount namespace), the environment
receives the descriptor and attaches the disk at /tmp with ``move_mount``.

Teardown is the kernel's: once the descriptor is passed, the environment's mount namespace holds
the disk's only reference. When its last process ends the file system is unmounted, the loop
device detaches itself (autoclear) and the unlinked file's blocks are freed; a supervisor killed
with ``kill -9`` takes its spare disks along the same way. What can be left is a folder of images
(``<home>/scratch/<pid>-…``), which the next supervisor on that home removes with any loop device
still reading from it.

Where this is not possible (not root, no ``/dev/loop-control``, no ``mkfs.ext4``, a kernel without
ext4 or the new mount API), /tmp is a size-capped tmpfs as before, and ``cumulo up`` says so.
"""

from __future__ import annotations

import ctypes
import errno
import itertools
import os
import shutil
import socket
import struct
import threading
import time
from pathlib import Path

from cumulo.runtime.inside import linux

__all__ = ["ScratchDisks", "mount_tmp", "remove_leftovers", "unavailable"]

_CHAN_FD = 3
_DISK_MARK = b"D"         # the byte that carries the disk's descriptor on the channel
_FD_SIZE = struct.calcsize("i")
MIB = 1024 * 1024
DEFAULT_MB = 512          # AWS's default EphemeralStorage: its disks are made at start
SPARE = 2                 # ready disks kept per size recently asked for (DEFAULT_SPARE for 512 MB)
DEFAULT_SPARE = 6
MAX_SPARE = 8             # … more after cold starts that found none ready, up to this
LOW = 1                   # at most this many ready: make more at once, up to the spare count
QUIET_S = 0.05            # otherwise only once no disk was taken for this long
KEEP_S = 600.0            # a size nobody asked for this long keeps no spare disks
LOOP_CONTROL = "/dev/loop-control"
_SBIN = "/usr/local/sbin:/usr/sbin:/sbin:/usr/local/bin:/usr/bin:/bin"

# The new mount API (same numbers on every architecture since Linux 5.1).
_SYS_MOVE_MOUNT = 429
_SYS_FSOPEN = 430
_SYS_FSCONFIG = 431
_SYS_FSMOUNT = 432
_AT_FDCWD = -100
_MOVE_MOUNT_F_EMPTY_PATH = 0x4
_FSOPEN_CLOEXEC = 0x1
_FSMOUNT_CLOEXEC = 0x1
_FSCONFIG_SET_FLAG = 0
_FSCONFIG_SET_STRING = 1
_FSCONFIG_CMD_CREATE = 6
_MOUNT_ATTR_NOSUID = 0x2
_MOUNT_ATTR_NODEV = 0x4
# Loop devices (linux/loop.h).
_LOOP_CTL_GET_FREE = 0x4C82
_LOOP_CONFIGURE = 0x4C0A
_LOOP_CLR_FD = 0x4C01
_LO_FLAGS_AUTOCLEAR = 4
_LO_FLAGS_DIRECT_IO = 16
_LOOP_INFO64 = struct.Struct("=5Q4I64s64s32s2Q")
_FICLONE = 0x40049409
# ext2/3/4 superblock (at byte 1024): s_state's "cleanly unmounted" bit.
_EXT_STATE = struct.Struct("<H")
_EXT_STATE_OFFSET = 1024 + 58
_EXT_VALID_FS = 1

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _syscall(nr: int, *args: object, what: str) -> int:
    result = _libc.syscall(ctypes.c_long(nr), *args)
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return int(result)


def _move_mount(fd: int, target: str) -> None:
    _syscall(_SYS_MOVE_MOUNT, ctypes.c_int(fd), ctypes.c_char_p(b""), ctypes.c_int(_AT_FDCWD),
             ctypes.c_char_p(target.encode()), ctypes.c_uint(_MOVE_MOUNT_F_EMPTY_PATH), what=f"move_mount {target}")


# -- inside the environment -----------------------------------------------------------------------

def mount_tmp(spec: dict, at: str = "/tmp") -> None:
    """The environment's /tmp, in its own mount namespace (namespace level): the disk the
    supervisor sent on the channel (fd 3) when ``spec["scratch"]`` says it did, else a tmpfs
    capped at the ephemeral storage. A disk the kernel refuses to attach falls back to the tmpfs,
    with a line on the function's log."""
    if spec.get("scratch"):
        disk = _receive_disk()
        try:
            _move_mount(disk, at)
            return
        except OSError as exc:
            os.write(2, f"Cumulo: this environment's /tmp is memory (tmpfs), not its disk: {exc.strerror}\n".encode())
        finally:
            os.close(disk)
    linux.mount("tmpfs", at, "tmpfs", linux.MS_NOSUID | linux.MS_NODEV, f"size={spec['ephemeral_mb']}m,mode=1777")


def _receive_disk() -> int:
    """The disk's descriptor, from the one byte ``send_disk`` put ahead of everything on the channel
    (no frame, no JSON: this is on every cold start's path, in a process just forked)."""
    chan = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM, 0, _CHAN_FD)
    try:
        data, ancillary, _, _ = chan.recvmsg(1, socket.CMSG_SPACE(_FD_SIZE))
    finally:
        chan.detach()
    fds = [fd for level, kind, raw in ancillary if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS
           for (fd,) in struct.iter_unpack("i", raw[:len(raw) - len(raw) % _FD_SIZE])]
    if data != _DISK_MARK or len(fds) != 1:
        for fd in fds:
            os.close(fd)
        raise OSError(errno.EPROTO, f"expected the /tmp disk on the channel, got {data!r}")
    return fds[0]


# -- the supervisor's side ------------------------------------------------------------------------

def unavailable() -> str | None:
    """Why environments cannot get disks here, or None (then ``ScratchDisks.create`` tries one)."""
    if os.geteuid() != 0:
        return "loop devices need root"
    if not os.path.exists(LOOP_CONTROL):
        return f"no {LOOP_CONTROL} (loop devices)"
    if _mkfs() is None:
        return "no mkfs.ext4 (e2fsprogs)"
    try:
        with open("/proc/filesystems") as f:
            if not any(line.split()[-1:] == ["ext4"] for line in f):
                return "the kernel has no ext4"
    except OSError:
        return "no /proc/filesystems"
    return None


def send_disk(chan: socket.socket, disk: int) -> None:
    """Put the disk in the environment's channel, ahead of everything else it will read: one byte
    carrying the descriptor (a blocking socket with an empty buffer takes it at once)."""
    chan.sendmsg([_DISK_MARK], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("i", disk))])


class ScratchDisks:
    """Ready disks for environments' /tmp, per size in MB; thread-safe. ``take`` hands one over
    (a mount descriptor the caller closes once it is sent); a background thread makes more."""

    def __init__(self, folder: Path, mkfs: str) -> None:
        self.folder = folder
        self._mkfs = mkfs
        self._images: dict[int, Path] = {}
        self._ready: dict[int, list[int]] = {}
        self._asked: dict[int, float] = {DEFAULT_MB: float("inf")}   # the default size always has spares
        self._target: dict[int, int] = {}     # spare counts raised after misses
        self._missed: dict[int, float] = {}
        self._filling: set[int] = set()     # sizes being brought back up to their spare count at once
        self._last_take = 0.0
        self._cond = threading.Condition()
        self._image_lock = threading.Lock()
        self._names = itertools.count()
        self._closed = False
        self._thread = threading.Thread(target=self._refill, name="cumulo-scratch", daemon=True)
        self.made = 0                # disks made
        self.made_on_demand = 0      # … by a cold start that found none ready
        self.failures = 0
        self.last_error = ""

    @classmethod
    def create(cls, home: Path) -> tuple["ScratchDisks | None", str]:
        """Disks for environments of the server on ``home``, or None and why not. Makes the
        default size's image and one disk now: the whole chain works, or we know it does not."""
        reason = unavailable()
        if reason is not None:
            return None, reason
        root = home / "scratch"
        try:
            root.mkdir(mode=0o700, parents=True, exist_ok=True)
            remove_leftovers(root)
            folder = root / f"{os.getpid()}-{os.urandom(4).hex()}"
            folder.mkdir(mode=0o700)
        except OSError as exc:
            return None, f"cannot make {root}: {exc.strerror}"
        disks = cls(folder, _mkfs() or "mkfs.ext4")
        try:
            first = disks._make(DEFAULT_MB)
        except (OSError, RuntimeError) as exc:
            disks.close()
            return None, f"cannot make a disk: {exc}"
        disks._ready[DEFAULT_MB] = [first]
        disks._thread.start()
        return disks, ""

    def take(self, mb: int) -> int:
        """A mounted, empty disk of ``mb`` MB (a detached mount's descriptor, close-on-exec)."""
        with self._cond:
            if self._closed:
                raise OSError(errno.ESHUTDOWN, "the scratch disks are closed")
            now = self._last_take = time.monotonic()
            self._asked[mb] = max(self._asked.get(mb, now), now)
            ready = self._ready.setdefault(mb, [])
            disk = ready.pop() if ready else None
            if disk is None:    # a burst outran the spares: keep more of this size for a while
                self._target[mb] = min(MAX_SPARE, self._spare(mb) + 1)
                self._missed[mb] = now
            if len(ready) <= LOW:
                self._cond.notify()
        if disk is None:
            try:
                disk = self._make(mb)
            except (OSError, RuntimeError) as exc:
                self.failures += 1
                self.last_error = str(exc)
                raise
            self.made_on_demand += 1
        return disk

    def ready(self, mb: int = DEFAULT_MB) -> int:
        with self._cond:
            return len(self._ready.get(mb, []))

    def close(self) -> None:
        """Stop making disks, drop the spares (their loop devices detach) and remove the folder.
        Disks already passed to environments stay theirs until they end."""
        with self._cond:
            self._closed = True
            spares = [fd for fds in self._ready.values() for fd in fds]
            self._ready.clear()
            self._cond.notify_all()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
        for fd in spares:
            os.close(fd)
        shutil.rmtree(self.folder, ignore_errors=True)

    # -- making disks ------------------------------------------------------------------------------
    def _refill(self) -> None:
        """Make disks where fewer are ready than a size's spare count: at once, up to that count,
        when at most LOW are left; else only once no cold start took one for QUIET_S. Making a disk
        beside a cold start in progress slowed it by 0.2-1 ms on 2 cores (a paired benchmark), so
        the spares of a series of cold starts are made in one go between them, not one per cold
        start. (Not at a lower priority: a thread preempted while it holds the GIL would hold up
        the server's other threads; its work is mostly system calls, without the GIL.)"""
        while True:
            with self._cond:
                while True:
                    if self._closed:
                        return
                    size = self._wanted()
                    if size is None:
                        self._cond.wait(timeout=60)
                        self._forget_stale()
                        continue
                    quiet = time.monotonic() - self._last_take
                    if size in self._filling or quiet >= QUIET_S:
                        break
                    self._cond.wait(timeout=QUIET_S - quiet)
            try:
                disk = self._make(size)
            except (OSError, RuntimeError) as exc:
                self.failures += 1
                self.last_error = str(exc)
                with self._cond:
                    self._cond.wait(timeout=1.0)   # a full disk or no loop devices left: not in a tight loop
                continue
            with self._cond:
                if self._closed:
                    os.close(disk)
                    return
                self._ready.setdefault(size, []).append(disk)

    def _wanted(self) -> int | None:
        """A size with fewer ready disks than it should have (the default size first); one with
        at most LOW left is marked to be filled at once."""
        for mb in sorted(self._asked, key=lambda m: (m != DEFAULT_MB, m)):
            ready = len(self._ready.get(mb, []))
            if ready >= self._spare(mb):
                self._filling.discard(mb)
                continue
            if ready <= LOW:
                self._filling.add(mb)
            return mb
        return None

    def _spare(self, mb: int) -> int:
        return self._target.get(mb, DEFAULT_SPARE if mb == DEFAULT_MB else SPARE)

    def _forget_stale(self) -> None:
        now = time.monotonic()
        for mb, missed in list(self._missed.items()):
            if now - missed > 60:
                self._target.pop(mb, None)
                self._missed.pop(mb, None)
        for mb, asked in list(self._asked.items()):
            if now - asked > KEEP_S:
                del self._asked[mb]
                self._filling.discard(mb)
                for fd in self._ready.pop(mb, []):
                    os.close(fd)

    def _make(self, mb: int) -> int:
        image = self._image(mb)
        path = self.folder / f"disk-{next(self._names)}.img"
        _copy_sparse(image, path)
        try:
            source, dev = _attach(path, self.folder)
        finally:
            path.unlink()     # the loop device holds the file: its blocks go when it detaches
        try:
            disk = _mount_ext4(source)
        finally:
            os.close(dev)     # from here the mount holds the loop device; autoclear when it goes
        self.made += 1
        return disk

    def _image(self, mb: int) -> Path:
        """The empty file system every disk of ``mb`` MB is copied from, made once: sized so that
        what a user can write (``statvfs``'s available blocks) is ``mb`` MiB, give or take one."""
        image = self._images.get(mb)     # (a dict lookup is atomic: no waiting behind another size's mkfs)
        if image is not None:
            return image
        with self._image_lock:
            image = self._images.get(mb)
            if image is not None:
                return image
            want = mb * MIB
            size = want + want // 20 + 4 * MIB    # a first guess: ext4 keeps ~4% for itself at these sizes
            for attempt in range(8):
                candidate = self.folder / f"image-{mb}.new"
                available = self._format(candidate, size)
                # (a block group's boundary can make the overhead jump: then a little more will do)
                if want <= available < want + (MIB if attempt < 4 else 8 * MIB):
                    image = self.folder / f"image-{mb}.img"
                    candidate.rename(image)
                    self._images[mb] = image
                    return image
                size += (want - available + MIB // 2) // 4096 * 4096
            raise RuntimeError(f"could not size a {mb} MB file system")

    def _format(self, path: Path, size: int) -> int:
        """mkfs.ext4 on a sparse file of ``size`` bytes; mount it once to empty its root (no
        lost+found), make it 1777, and measure what is available. Returns that, in bytes."""
        import subprocess

        with open(path, "wb") as f:
            f.truncate(size)
        base = [self._mkfs, "-q", "-F", "-t", "ext4", "-b", "4096", "-i", "8192", "-m", "0",
                "-O", "^has_journal,^resize_inode", "-L", "cumulo-tmp"]
        for extended in ("lazy_itable_init=1,nodiscard,assume_storage_prezeroed=1", "lazy_itable_init=1,nodiscard"):
            done = subprocess.run([*base, "-E", extended, str(path)], stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={"PATH": _SBIN})
            if done.returncode == 0:
                break
        else:
            raise RuntimeError(f"mkfs.ext4 failed: {done.stdout.decode(errors='replace').strip()[-300:]}")
        source, dev = _attach(path, self.folder)
        try:
            disk = _mount_ext4(source)
        finally:
            os.close(dev)
        try:
            root = f"/proc/self/fd/{disk}"
            try:
                os.rmdir(f"{root}/lost+found")
            except FileNotFoundError:
                pass
            os.chmod(root, 0o1777)
            stat = os.statvfs(root)
        finally:
            os.close(disk)
        _await_unmounted(path)
        return stat.f_bavail * stat.f_frsize


def _mkfs() -> str | None:
    return shutil.which("mkfs.ext4", path=_SBIN)


def _copy_sparse(source: Path, target: Path) -> None:
    """Copy ``source``'s data and keep its holes (a reflink where the file system has them)."""
    with open(source, "rb") as src, open(target, "xb") as dst:
        try:
            import fcntl

            fcntl.ioctl(dst.fileno(), _FICLONE, src.fileno())
            return
        except OSError:
            pass
        size = os.fstat(src.fileno()).st_size
        dst.truncate(size)
        offset = 0
        while offset < size:
            try:
                start = os.lseek(src.fileno(), offset, os.SEEK_DATA)
            except OSError as exc:
                if exc.errno == errno.ENXIO:   # only a hole is left
                    break
                raise
            end = os.lseek(src.fileno(), start, os.SEEK_HOLE)
            position = start
            while position < end:
                copied = os.copy_file_range(src.fileno(), dst.fileno(), end - position, position, position)
                if copied == 0:
                    raise OSError(errno.EIO, f"short copy of {source}")
                position += copied
            offset = end


def _attach(path: Path, folder: Path) -> tuple[str, int]:
    """A free loop device reading ``path`` (autoclear; direct I/O where the file allows it).
    Returns the device's path and an open descriptor on it: closing the last one detaches it."""
    import fcntl

    control = os.open(LOOP_CONTROL, os.O_RDWR | os.O_CLOEXEC)
    try:
        for _ in range(16):
            number = fcntl.ioctl(control, _LOOP_CTL_GET_FREE)
            node = _device_node(number, folder)
            dev = os.open(node, os.O_RDWR | os.O_CLOEXEC)
            direct = True
            try:
                backing = os.open(path, os.O_RDWR | os.O_CLOEXEC | os.O_DIRECT)
            except OSError:           # a file system without O_DIRECT (an old tmpfs)
                direct = False
                backing = os.open(path, os.O_RDWR | os.O_CLOEXEC)
            flags = _LO_FLAGS_AUTOCLEAR | (_LO_FLAGS_DIRECT_IO if direct else 0)
            info = _LOOP_INFO64.pack(0, 0, 0, 0, 0, 0, 0, 0, flags, b"", b"", b"", 0, 0)
            config = struct.pack("=II", backing, 4096 if direct else 0) + info + bytes(64)
            try:
                fcntl.ioctl(dev, _LOOP_CONFIGURE, config)
            except OSError as exc:
                os.close(dev)
                if exc.errno == errno.EBUSY:   # another process took it between GET_FREE and here
                    continue
                raise OSError(exc.errno, f"LOOP_CONFIGURE: {exc.strerror}") from None
            finally:
                os.close(backing)
            return node, dev
    finally:
        os.close(control)
    raise OSError(errno.EBUSY, "no free loop device")


def _device_node(number: int, folder: Path) -> str:
    """``/dev/loopN``, or a node of our own for it where /dev has none (no devtmpfs)."""
    node = f"/dev/loop{number}"
    if os.path.exists(node):
        return node
    with open(f"/sys/block/loop{number}/dev") as f:
        major, minor = (int(x) for x in f.read().split(":"))
    own = str(folder / f"loop{number}")
    if not os.path.exists(own):
        os.mknod(own, 0o600 | 0o060000, os.makedev(major, minor))
    return own


def _mount_ext4(source: str) -> int:
    """``source`` mounted detached (nosuid, nodev): the mount's descriptor, close-on-exec."""
    fs = _syscall(_SYS_FSOPEN, ctypes.c_char_p(b"ext4"), ctypes.c_uint(_FSOPEN_CLOEXEC), what="fsopen ext4")
    try:
        def config(cmd: int, key: str | None, value: str | None) -> None:
            try:
                _syscall(_SYS_FSCONFIG, ctypes.c_int(fs), ctypes.c_uint(cmd),
                         ctypes.c_char_p(key.encode() if key else None),
                         ctypes.c_char_p(value.encode() if value else None), ctypes.c_int(0),
                         what=f"fsconfig {key or 'create'}")
            except OSError as exc:
                raise OSError(exc.errno, f"{exc.strerror} {_fs_messages(fs)}".strip()) from None

        config(_FSCONFIG_SET_STRING, "source", source)
        # The inode tables are zeros already (a sparse file): no background thread writing them.
        config(_FSCONFIG_SET_FLAG, "noinit_itable", None)
        # Scratch space: an fsync need not reach the host's disk, only the loop device.
        config(_FSCONFIG_SET_FLAG, "nobarrier", None)
        config(_FSCONFIG_CMD_CREATE, None, None)
        return _syscall(_SYS_FSMOUNT, ctypes.c_int(fs), ctypes.c_uint(_FSMOUNT_CLOEXEC),
                        ctypes.c_uint(_MOUNT_ATTR_NOSUID | _MOUNT_ATTR_NODEV), what="fsmount")
    finally:
        os.close(fs)


def _fs_messages(fs: int) -> str:
    """What the file system said about a failed fsconfig (the context's message log)."""
    said = []
    os.set_blocking(fs, False)
    for _ in range(8):
        try:
            said.append(os.read(fs, 4096).decode(errors="replace"))
        except OSError:
            break
    return "; ".join(said)


def _await_unmounted(path: Path) -> None:
    """Until the image's superblock says it was cleanly unmounted (the detached mount's last
    descriptor is closed: the kernel finishes unmounting on the way back to us)."""
    deadline = time.monotonic() + 5
    while True:
        with open(path, "rb") as f:
            f.seek(_EXT_STATE_OFFSET)
            (state,) = _EXT_STATE.unpack(f.read(2))
        if state & _EXT_VALID_FS:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{path} is still mounted")
        time.sleep(0.001)


def remove_leftovers(root: Path) -> None:
    """Remove image folders (``<pid>-…``) whose supervisor is gone, detaching any loop device
    still reading a file in one (autoclear does it for disks; not for one being made)."""
    try:
        stale = [c for c in root.iterdir() if c.is_dir() and c.name.split("-")[0].isdigit()
                 and int(c.name.split("-")[0]) != os.getpid() and not _alive(int(c.name.split("-")[0]))]
    except OSError:
        return
    if not stale:
        return
    prefixes = [str(c.resolve()) + "/" for c in stale]
    for backing in Path("/sys/block").glob("loop*/loop/backing_file"):
        try:
            name = backing.read_text().strip()
        except OSError:
            continue
        if any(name.startswith(p) for p in prefixes):
            _detach(backing.parent.parent.name)
    for folder in stale:
        shutil.rmtree(folder, ignore_errors=True)


def _detach(device: str) -> None:
    import fcntl

    try:
        fd = os.open(f"/dev/{device}", os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return
    try:
        fcntl.ioctl(fd, _LOOP_CLR_FD)   # in use (mounted): the kernel detaches it when released
    except OSError:
        pass
    finally:
        os.close(fd)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
