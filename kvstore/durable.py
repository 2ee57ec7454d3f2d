"""Durable points: commits without an fsync each, and an LMDB file that a power loss never
corrupts.

The environment runs with LMDB's NOSYNC: a commit writes its pages and its meta page to the
page cache and returns. That alone is unsafe on power loss, for two reasons: the disk may hold
a meta page whose tree pages never got there, and LMDB reuses the pages of old snapshots, so
the last snapshot that did reach the disk may since have been overwritten in part.

A durable point closes both holes (Storage.checkpoint runs these steps):
  1. capture, with no commit in between: begin a read transaction on the newest snapshot S
     (the *pin*: LMDB never reuses a page a live reader can see) and copy S's meta page;
  2. flush: fdatasync the data file, so S's pages are on disk;
  3. record: write the meta copy, S's txnid and the boot id into the older of the two slots of
     `durable-point` (CRC-checked) and fdatasync it;
  4. release the previous point's pin.
So the recorded snapshot's pages are on disk and stay untouched until a newer point is
recorded; a torn record write leaves the other slot, whose pin was still held.

`recover` runs before the environment is opened. A record made during this boot means the
process stopped (exit, crash, kill -9) while the page cache kept every write: the file is used
as it is. A record from an earlier boot with a different newest meta page means the machine
went down after the point: pages written after it may be missing or torn, so both meta pages
are rewritten with the recorded one, which rolls the environment back to S (the writes of the
last interval are lost, never the file). A clean shutdown records its last commit, so a later
reboot finds nothing to roll back.

LMDB 0.9 meta page (64-bit): page header (pgno u64 at 0, flags u16 at 10 = P_META), then
magic u32 at 16, version u32 at 20, ..., last_pgno u64 at 136, txnid u64 at 144. The page of
txn T is slot T % 2 (page 0 or 1); LMDB opens the slot with the higher txnid.
"""

import logging
import os
import struct
import zlib

log = logging.getLogger("kvstore.durable")

RECORD_FILE = "durable-point"
DATA_FILE = "data.mdb"
BOOT_ID_PATH = "/proc/sys/kernel/random/boot_id"

# Seconds between durable points per `appendfsync` (`always`: after every commit).
INTERVAL = {"everysec": 1.0, "no": 30.0}

LMDB_MAGIC = 0xBEEFC0DE
_PGNO = struct.Struct("<Q")                 # page header: pgno at offset 0
_MAGIC = struct.Struct("<II")               # magic, version at offset 16
_TXNID = struct.Struct("<Q")                # at offset 144
MAGIC_AT, TXNID_AT, META_END = 16, 144, 152

# Record slot: header, the meta page (page_size bytes), CRC-32 of both.
_HEADER = struct.Struct("<4sIQIQ40s")      # magic, version, txnid, page size, unix ms, boot id
RECORD_MAGIC = b"KVDP"
RECORD_VERSION = 1
MAX_PAGE_SIZE = 65536                       # LMDB's page size is the OS page size
SLOT_SIZE = 4096 + MAX_PAGE_SIZE            # a slot holds a record for any page size


def current_boot_id():
    """This boot's id (Linux: a random UUID made at boot)."""
    with open(BOOT_ID_PATH) as f:
        return f.read().strip()


def meta_txnid(page):
    """The txnid of an LMDB meta page, or -1 if the page is not a valid meta page."""
    if len(page) < META_END or _MAGIC.unpack_from(page, MAGIC_AT)[0] != LMDB_MAGIC:
        return -1
    return _TXNID.unpack_from(page, TXNID_AT)[0]


def read_meta_pages(fd, page_size):
    return [os.pread(fd, page_size, slot * page_size) for slot in (0, 1)]


class Record:
    __slots__ = ("txnid", "page_size", "unix_ms", "boot_id", "meta", "slot")

    def __init__(self, txnid, page_size, unix_ms, boot_id, meta, slot=0):
        self.txnid, self.page_size, self.unix_ms = txnid, page_size, unix_ms
        self.boot_id, self.meta, self.slot = boot_id, meta, slot

    def pack(self):
        head = _HEADER.pack(RECORD_MAGIC, RECORD_VERSION, self.txnid, self.page_size,
                            self.unix_ms, self.boot_id.encode())
        body = head + self.meta
        return body + struct.pack("<I", zlib.crc32(body))

    @classmethod
    def unpack(cls, raw, slot):
        """The record in `raw`, or None if it is empty, torn or of another format."""
        if len(raw) < _HEADER.size + 4:
            return None
        magic, version, txnid, page_size, unix_ms, boot = _HEADER.unpack_from(raw)
        if magic != RECORD_MAGIC or version != RECORD_VERSION:
            return None
        end = _HEADER.size + page_size
        if not META_END <= page_size <= MAX_PAGE_SIZE or len(raw) < end + 4:
            return None
        if struct.unpack_from("<I", raw, end)[0] != zlib.crc32(raw[:end]):
            return None
        meta = raw[_HEADER.size:end]
        if meta_txnid(meta) != txnid:
            return None
        return cls(txnid, page_size, unix_ms, boot.rstrip(b"\0").decode(), meta, slot)


def read_record(env_dir):
    """The newest valid record in `env_dir`, or None (no file, or both slots invalid)."""
    try:
        with open(os.path.join(env_dir, RECORD_FILE), "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        return None
    records = [r for r in (Record.unpack(raw[:SLOT_SIZE], 0),
                           Record.unpack(raw[SLOT_SIZE:], 1)) if r is not None]
    return max(records, key=lambda r: r.txnid) if records else None


def recover(env_dir):
    """Roll the environment in `env_dir` back to its recorded durable point if the machine
    went down after it (see the module docstring). Runs before LMDB opens the file. Returns
    (newest txnid found, recorded txnid) when it rolled back, else None."""
    record = read_record(env_dir)
    if record is None:
        if os.path.exists(os.path.join(env_dir, RECORD_FILE)):
            log.warning("%s: no valid durable-point record (damaged?): the file is used as it "
                        "is", env_dir)
        return None
    if record.boot_id == current_boot_id():
        return None
    path = os.path.join(env_dir, DATA_FILE)
    fd = os.open(path, os.O_RDWR)
    try:
        pages = read_meta_pages(fd, record.page_size)
        newest = max(meta_txnid(p) for p in pages)
        if newest >= 0 and newest < record.txnid:
            log.warning("%s: the durable-point record (txn %d) is newer than the file's "
                        "newest snapshot (txn %d): the file was replaced; record ignored",
                        env_dir, record.txnid, newest)
            return None
        slot = record.txnid % 2
        if newest == record.txnid and pages[slot][:META_END] == record.meta[:META_END]:
            return None                     # shut down cleanly (or nothing written since)
        # Both slots: the point in its own slot, and in the other the same tree under the
        # previous txnid (LMDB picks the higher one; the next commit overwrites the other).
        older = bytearray(record.meta)
        _PGNO.pack_into(older, 0, 1 - slot)
        _TXNID.pack_into(older, TXNID_AT, record.txnid - 1)
        os.pwrite(fd, record.meta, slot * record.page_size)
        os.pwrite(fd, bytes(older), (1 - slot) * record.page_size)
        os.fsync(fd)
    finally:
        os.close(fd)
    log.warning("%s: the machine restarted after the last durable point: rolled back from "
                "txn %s to txn %d (the writes of the last interval before the restart are "
                "lost; the file is intact)", env_dir, newest if newest >= 0 else "?",
                record.txnid)
    return max(newest, record.txnid), record.txnid


class RecordFile:
    """The two-slot record file of one environment directory. Not thread-safe: the caller
    serializes (Storage.checkpoint holds its lock)."""

    def __init__(self, env_dir, page_size):
        self.path = os.path.join(env_dir, RECORD_FILE)
        self.page_size = page_size
        self.boot_id = current_boot_id()
        existing = read_record(env_dir)
        # The next write goes to the slot that does not hold the newest record.
        self.next_slot = 1 - existing.slot if existing is not None else 0
        new = not os.path.exists(self.path)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        if new:
            os.ftruncate(self.fd, 2 * SLOT_SIZE)
            os.fsync(self.fd)
            dfd = os.open(env_dir, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)

    def write(self, txnid, meta, unix_ms):
        """Durably record `meta` (the meta page of snapshot `txnid`) as the durable point."""
        raw = Record(txnid, self.page_size, unix_ms, self.boot_id, meta).pack()
        os.pwrite(self.fd, raw, self.next_slot * SLOT_SIZE)
        os.fdatasync(self.fd)
        self.next_slot = 1 - self.next_slot

    def close(self):
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
