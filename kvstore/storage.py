"""The LMDB environment: named tables, persistent counters, the replication log table, and the
commit/sync policy. The only module that opens or commits LMDB transactions' outer layer.

Tables (named LMDB databases):
  meta     <pdb u32 BE><encoded key>              -> key record (see keyspace.py)
  expires  <pdb u32 BE><expire ms u64 BE><enc key> -> b""      (ordered index for active expiry)
  elems    <keyid u64 BE><element ...>             -> element records of collections (sets and
                                                     hashes: <slot u32 BE><name>, see keyspace)
  log      <first byte offset u64 BE>              -> <u64 LE commit unix ms> + RESP bytes of one
                                                     committed batch
  sys      named records: dbmap, counters, repl state, id allocators, lastsave, format

Logical databases (SELECT n) map to physical ids (pdb) through `dbmap`, so SWAPDB swaps two
entries and FLUSHDB points the logical db at a fresh pdb while the old one is reclaimed in
bounded slices in the background (as Redis's lazyfree does).

Durability (see README "Storage and durability"): commits do not sync (LMDB NOSYNC); durable
points (durable.py) make them durable and keep a power loss from corrupting the file: after every
commit with `appendfsync always` (before replies are released), once a second with `everysec`,
every 30 seconds with `no`. A process crash (kill -9) loses nothing that was committed, in any
mode; a power loss, at most what was committed after the last durable point.
"""

import logging
import os
import shutil
import struct
import threading
import time

import lmdb

from kvstore import durable

log = logging.getLogger("kvstore.storage")

_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_COUNTS = struct.Struct("<qq")
_REPL = struct.Struct("<qi")
_LOG_TS = struct.Struct("<Q")
_REPL_IDS = struct.Struct("<40s40sq")
NO_REPLID = "0" * 40


def new_replid():
    return os.urandom(20).hex()

SYS_DBMAP = b"dbmap"
SYS_NEXT_PDB = b"next_pdb"
SYS_NEXT_KEYID = b"next_keyid"
SYS_REPL = b"repl"
SYS_REPL_IDS = b"repl_ids"
SYS_LASTSAVE = b"lastsave"
SYS_RECLAIM = b"reclaim"
SYS_RECLAIM_KEYIDS = b"reclaim_keyids"
SYS_STAGING = b"staging"
SYS_COUNTS_PREFIX = b"counts:"
SYS_FORMAT = b"format"
SYS_CONVERTED = b"converted"     # format 1 -> 2: the last key record converted (resumes there)

# The layout of the tables. 1 (no SYS_FORMAT record): set and hash elements at <keyid><name>;
# 2: at <keyid><slot><name> (keyspace.element_slot). Older data is converted at open.
FORMAT_VERSION = 2

ENV_DIRNAME = "kvstore.lmdb"
OLD_SUFFIX = ".old"
INCOMING_SUFFIX = ".incoming"


# ---- sys record readers: the one place that decodes them (also used on another node's
# environment: snapshot helpers, a received native snapshot) ----------------------------------
def _u32_list(raw):
    return [_U32.unpack_from(raw, i)[0] for i in range(0, len(raw), 4)] if raw else []


def read_dbmap(txn, sys_db):
    """Physical db ids of the logical databases (empty for a new environment)."""
    return _u32_list(txn.get(SYS_DBMAP, db=sys_db))


def read_repl_position(txn, sys_db, log_db):
    """(end offset of the log, db selected at that point of the stream; -1 = none yet).
    The offset is where the newest log record ends (a commit that appends one does not also
    rewrite SYS_REPL: one page less to write and sync); SYS_REPL holds the stream's db and
    the offset of a reset, which empties the log."""
    raw = txn.get(SYS_REPL, db=sys_db)
    offset, stream_db = _REPL.unpack(raw) if raw else (0, -1)
    cur = txn.cursor(db=log_db)
    if cur.last():
        offset = _U64.unpack(cur.key())[0] - 1 + len(cur.value()) - _LOG_TS.size
    return offset, stream_db


def read_repl_ids(txn, sys_db):
    """(replid, replid2, second_repl_offset), or None before the first start."""
    raw = txn.get(SYS_REPL_IDS, db=sys_db)
    if not raw:
        return None
    a, b, second = _REPL_IDS.unpack(raw)
    return a.decode(), b.decode(), second


def count_keys(txn, sys_db, dbmap):
    """Keys in the logical databases `dbmap` (from the counters)."""
    total = 0
    for pdb in dbmap:
        raw = txn.get(SYS_COUNTS_PREFIX + _U32.pack(pdb), db=sys_db)
        if raw is not None:
            total += _COUNTS.unpack(raw)[0]
    return total


def iter_log_table(txn, log_db, from_offset):
    """See Storage.iter_log; usable on any environment holding a kvstore `log` table."""
    cur = txn.cursor(db=log_db)
    key = _U64.pack(from_offset)
    # Start on the record holding from_offset: the last one that begins at or before it.
    if cur.set_range(key):
        if cur.key() != key and not cur.prev():
            raise KeyError(from_offset)              # older than the oldest byte held
    elif not cur.last():
        return                                       # empty log
    first = True
    for k, v in cur:
        start = _U64.unpack(k)[0]
        data = v[_LOG_TS.size:]
        if first:
            first = False
            skip = from_offset - start
            if skip > len(data):
                raise KeyError(from_offset)          # beyond the end of the log
            if skip:
                data = data[skip:]
                start = from_offset
        if data:
            yield start, bytes(data)


class Storage:
    """Owns the environment and the committed in-memory mirrors of the sys records.

    Single-writer contract: only one write transaction exists at a time, opened by
    `begin_write` and closed by `commit_write`/`abort_write` without any greenlet switch in
    between (callers run the whole batch synchronously in one hub callback).
    """

    def __init__(self, cfg, directory):
        self.cfg = cfg
        self.directory = os.path.abspath(directory)
        self.path = os.path.join(self.directory, ENV_DIRNAME)
        self.databases = cfg.databases
        # Serializes durable points (the everysec thread, the hub) with each other and with
        # closing or replacing the environment.
        self.env_lock = threading.Lock()
        # Held around each commit of a batch: a durable point's capture must see no commit
        # between its pin and the meta page it copies (see checkpoint).
        self.commit_lock = threading.Lock()
        self.pin = None               # read transaction on the recorded durable point
        self.records = None           # durable.RecordFile
        self.data_fd = -1
        self.durable_txnid = 0
        self.durable_mono = time.monotonic()
        self.durable_points = 0
        self.rolled_back = None       # (newest txnid, durable txnid) if recovery rolled back
        old = self.path + OLD_SUFFIX
        if not os.path.exists(self.path) and os.path.exists(old):
            os.rename(old, self.path)        # a crash in the middle of replace_environment
        elif os.path.exists(old):
            shutil.rmtree(old, ignore_errors=True)
        # A native full sync cut off before its swap: the partial copy is garbage.
        shutil.rmtree(self.path + INCOMING_SUFFIX, ignore_errors=True)
        os.makedirs(self.path, exist_ok=True)
        self._open()
        self._size_cache = (0.0, 0)
        self.last_commit_error = None
        self.commits = 0
        self.changes = 0             # logged effects committed since start (INFO dirty)
        # Called with [(pdb, key or None for the whole db), ...] as each write command's
        # changes are merged into a batch (WATCH invalidation); set by the server.
        self.on_touch = None
        # Keyspace notifications: the enabled class letters (from notify-keyspace-events)
        # and the publisher of [(event, key, db), ...]; both set by the server.
        self.notify_classes = ""
        self.on_events = None
        self.log_effects = True      # False on a replica (see Batch.log_effects)
        self.expire_soon = []        # (db, key) expired keys that reads found (Keyspace.lookup)
        self.lazy_expirations = 0    # expired keys deleted on access (INFO expired_keys)


    def _open(self):
        """Open the environment (after rolling it back to its durable point if the machine
        went down since, see durable.recover), upgrade and load it; each step is followed by
        a durable point. Callers hold env_lock or run before any other thread exists."""
        if os.path.exists(os.path.join(self.path, durable.DATA_FILE)):
            rolled = durable.recover(self.path)
            if rolled is not None:
                self.rolled_back = rolled
        self.env = lmdb.open(
            self.path, map_size=self.cfg.storage_map_size, max_dbs=8,
            max_readers=self.cfg.storage_max_readers, sync=False, metasync=False,
            readahead=False, writemap=False, meminit=False, lock=True)
        self.page_size = self.env.stat()["psize"]
        self.data_fd = os.open(os.path.join(self.path, durable.DATA_FILE), os.O_RDONLY)
        self.records = durable.RecordFile(self.path, self.page_size)
        self._checkpoint_locked()
        self.meta_db = self.env.open_db(b"meta")
        self.expires_db = self.env.open_db(b"expires")
        self.elems_db = self.env.open_db(b"elems")
        self.log_db = self.env.open_db(b"log")
        self.sys_db = self.env.open_db(b"sys")
        self._upgrade_format()
        self._load_sys()
        self._checkpoint_locked()

    def _close_env(self):
        """Release the pin and files of the environment and close it (env_lock held)."""
        if self.pin is not None:
            self.pin.abort()
            self.pin = None
        if self.records is not None:
            self.records.close()
        if self.data_fd >= 0:
            os.close(self.data_fd)
            self.data_fd = -1
        self.env.close()

    def _upgrade_format(self):
        with self.env.begin() as txn:
            raw = txn.get(SYS_FORMAT, db=self.sys_db)
            empty = txn.stat(self.meta_db)["entries"] == 0
        version = _U32.unpack(raw)[0] if raw else 1
        if version > FORMAT_VERSION:
            raise RuntimeError("the data in %s has format %d; this kvstore reads formats up "
                               "to %d" % (self.path, version, FORMAT_VERSION))
        if version == 1 and not empty:
            from kvstore.keyspace import add_element_slots
            log.warning("data format 1: re-keying set and hash elements (format %d)...",
                        FORMAT_VERSION)
            n = add_element_slots(self.env, self.meta_db, self.elems_db, self.sys_db,
                                  SYS_CONVERTED)
            log.warning("data format %d: %d sets and hashes converted", FORMAT_VERSION, n)
        if version != FORMAT_VERSION:
            with self.env.begin(write=True) as txn:
                txn.put(SYS_FORMAT, _U32.pack(FORMAT_VERSION), db=self.sys_db)
                txn.delete(SYS_CONVERTED, db=self.sys_db)

    def replace_environment(self, incoming_dir):
        """Adopt a native snapshot (an LMDB environment copied from a primary, the file
        `data.mdb` in `incoming_dir`) as this node's whole environment: data, log, counters
        and replication state. The caller runs this between batches (no transaction open,
        no greenlet switch inside). The old environment is renamed aside and returned for
        the caller to delete; after a crash in between, startup puts it back."""
        old = self.path + OLD_SUFFIX
        if os.path.exists(old):
            shutil.rmtree(old)
        with self.env_lock:
            self._close_env()
            os.rename(self.path, old)
            os.rename(incoming_dir, self.path)
            fd = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            self._open()
        self.invalidate_size()
        return old

    # ---- sys state ---------------------------------------------------------------------------
    def _load_sys(self):
        with self.env.begin(write=True) as txn:
            dbmap = read_dbmap(txn, self.sys_db)
            raw = txn.get(SYS_NEXT_PDB, db=self.sys_db)
            next_pdb = _U32.unpack(raw)[0] if raw else 0
            while len(dbmap) < self.databases:
                dbmap.append(next_pdb)
                next_pdb += 1
            txn.put(SYS_DBMAP, b"".join(_U32.pack(p) for p in dbmap), db=self.sys_db)
            txn.put(SYS_NEXT_PDB, _U32.pack(next_pdb), db=self.sys_db)
            raw = txn.get(SYS_NEXT_KEYID, db=self.sys_db)
            self.next_keyid = _U64.unpack(raw)[0] if raw else 1
            self.repl_offset, self.log_stream_db = read_repl_position(txn, self.sys_db,
                                                                      self.log_db)
            ids = read_repl_ids(txn, self.sys_db)
            if ids is not None:
                self.replid, self.replid2, self.second_offset = ids
            else:
                self.replid, self.replid2, self.second_offset = new_replid(), NO_REPLID, -1
                txn.put(SYS_REPL_IDS, self._pack_ids(self.replid, NO_REPLID, -1),
                        db=self.sys_db)
            raw = txn.get(SYS_LASTSAVE, db=self.sys_db)
            self.lastsave = _U64.unpack(raw)[0] if raw else int(time.time())
            self.reclaim = _u32_list(txn.get(SYS_RECLAIM, db=self.sys_db))
            staging = _u32_list(txn.get(SYS_STAGING, db=self.sys_db))
            if staging:
                # A full sync was cut off while loading: its staging dbs are garbage.
                self.reclaim.extend(staging)
                txn.put(SYS_RECLAIM, b"".join(_U32.pack(p) for p in self.reclaim),
                        db=self.sys_db)
                txn.delete(SYS_STAGING, db=self.sys_db)
            self.staging = []
            raw = txn.get(SYS_RECLAIM_KEYIDS, db=self.sys_db)
            self.reclaim_keyids = ([_U64.unpack_from(raw, i)[0] for i in range(0, len(raw), 8)]
                                   if raw else [])
            self.counts = {}
            cur = txn.cursor(db=self.sys_db)
            if cur.set_range(SYS_COUNTS_PREFIX):
                for k, v in cur:
                    if not k.startswith(SYS_COUNTS_PREFIX):
                        break
                    self.counts[_U32.unpack(k[len(SYS_COUNTS_PREFIX):])[0]] = list(
                        _COUNTS.unpack(v))
        self.dbmap = dbmap
        self.next_pdb = next_pdb
        self.prefixes = [_U32.pack(p) for p in dbmap]

    @staticmethod
    def _pack_ids(replid, replid2, second_offset):
        return _REPL_IDS.pack(replid.encode(), replid2.encode(), second_offset)

    def set_repl_ids(self, replid, replid2, second_offset):
        """Persist the replication ids now (outside any batch: startup, promotion)."""
        with self.env.begin(write=True) as txn:
            txn.put(SYS_REPL_IDS, self._pack_ids(replid, replid2, second_offset),
                    db=self.sys_db)
        self.replid, self.replid2, self.second_offset = replid, replid2, second_offset

    def shift_repl_ids(self):
        """Start a new history at the current offset, keeping the old id as replid2 (Redis's
        shiftReplicationId: promotion, and a primary's restart)."""
        self.set_repl_ids(new_replid(), self.replid, self.repl_offset + 1)

    def log_first_offset(self):
        """Offset of the oldest byte the log holds (repl_offset + 1 when it holds none)."""
        with self.env.begin() as txn:
            cur = txn.cursor(db=self.log_db)
            if cur.first():
                return _U64.unpack(cur.key())[0]
        return self.repl_offset + 1

    def counts_of(self, pdb):
        c = self.counts.get(pdb)
        return c if c is not None else [0, 0]

    # ---- transactions ------------------------------------------------------------------------
    def begin_read(self):
        return self.env.begin(buffers=False)

    def begin_write(self):
        return self.env.begin(write=True)

    def commit_write(self, txn, batch):
        """Commit `txn` with the staged sys changes of `batch` (a keyspace.Batch): counters,
        dbmap, id allocators, and the log bytes, which are appended at the current offset.
        On success the in-memory mirrors advance; on failure nothing in memory changes and the
        exception propagates (the caller fails every command of the batch)."""
        sysdb = self.sys_db
        put = txn.put
        new_offset = self.repl_offset
        if batch.repl_reset is not None:
            # A full sync: the log restarts empty at the snapshot's offset.
            new_offset = batch.repl_reset[0]
            txn.drop(self.log_db, delete=False)
        if batch.log_parts:
            # Keys only grow (a reset empties the table first), so the record is appended
            # (MDB_APPEND): leaves fill up instead of splitting in the middle, which left
            # 1.3 records a page and dirtied two leaves a commit.
            data = b"".join(batch.log_parts)
            put(_U64.pack(new_offset + 1), _LOG_TS.pack(int(time.time() * 1000)) + data,
                db=self.log_db, append=True)
            new_offset += len(data)
        if batch.repl_reset is not None or batch.stream_db != self.log_stream_db:
            put(SYS_REPL, _REPL.pack(new_offset, batch.stream_db), db=sysdb)
        for pdb, c in batch.counts.items():
            put(SYS_COUNTS_PREFIX + _U32.pack(pdb), _COUNTS.pack(*c), db=sysdb)
        if batch.next_keyid != self.next_keyid:
            put(SYS_NEXT_KEYID, _U64.pack(batch.next_keyid), db=sysdb)
        if batch.dbmap is not None:
            put(SYS_DBMAP, b"".join(_U32.pack(p) for p in batch.dbmap), db=sysdb)
            put(SYS_NEXT_PDB, _U32.pack(batch.next_pdb), db=sysdb)
        if batch.reclaim is not None:
            put(SYS_RECLAIM, b"".join(_U32.pack(p) for p in batch.reclaim), db=sysdb)
        if batch.repl_ids is not None:
            put(SYS_REPL_IDS, self._pack_ids(*batch.repl_ids), db=sysdb)
        if batch.staging is not None:
            put(SYS_STAGING, b"".join(_U32.pack(p) for p in batch.staging), db=sysdb)
        if batch.reclaim_keyids is not None:
            put(SYS_RECLAIM_KEYIDS, b"".join(_U64.pack(k) for k in batch.reclaim_keyids),
                db=sysdb)
        with self.commit_lock:
            txn.commit()
        # Commit succeeded: advance the in-memory mirrors.
        self.commits += 1
        self.changes += batch.units
        self.repl_offset = new_offset
        self.log_stream_db = batch.stream_db
        self.counts.update(batch.counts)
        self.next_keyid = batch.next_keyid
        if batch.dbmap is not None:
            self.dbmap = batch.dbmap
            self.next_pdb = batch.next_pdb
            self.prefixes = [_U32.pack(p) for p in batch.dbmap]
        if batch.reclaim is not None:
            self.reclaim = batch.reclaim
        if batch.reclaim_keyids is not None:
            self.reclaim_keyids = batch.reclaim_keyids
        if batch.staging is not None:
            self.staging = batch.staging
        if batch.repl_ids is not None:
            self.replid, self.replid2, self.second_offset = batch.repl_ids
        if self.cfg.appendfsync == "always":
            try:
                self.checkpoint()
            except (OSError, lmdb.Error) as e:
                # Committed but not known durable: the batch's clients get an error.
                raise lmdb.Error("durable point failed: %s" % e) from e

    def checkpoint(self):
        """Make every commit so far durable and record it as the durable point (durable.py):
        capture (pin the newest snapshot, copy its meta page), fdatasync the data file,
        record, release the previous pin. Runs in the durable-point thread or in the hub
        (`appendfsync always`, SAVE, shutdown)."""
        with self.env_lock:
            self._checkpoint_locked()

    def _checkpoint_locked(self):
        env = self.env
        for _ in range(1000):
            with self.commit_lock:
                pin = env.begin()
                txnid = pin.id()
                pages = durable.read_meta_pages(self.data_fd, self.page_size)
            meta = pages[txnid % 2]
            if (durable.meta_txnid(meta) == txnid
                    and durable.meta_txnid(pages[1 - txnid % 2]) <= txnid):
                break
            # A write transaction outside commit_write (startup, promotion, SAVE) committed
            # between the pin and the read: capture again.
            pin.abort()
            time.sleep(0.001)
        else:
            raise lmdb.Error("durable point: the meta page kept changing under the capture")
        try:
            env.sync(True)
            self.records.write(txnid, meta, int(time.time() * 1000))
        except BaseException:
            pin.abort()
            raise
        old, self.pin = self.pin, pin
        if old is not None:
            old.abort()
        self.durable_txnid = txnid
        self.durable_mono = time.monotonic()
        self.durable_points += 1

    def mark_saved(self):
        self.checkpoint()
        self.lastsave = int(time.time())
        with self.env.begin(write=True) as txn:
            txn.put(SYS_LASTSAVE, _U64.pack(self.lastsave), db=self.sys_db)
        self.checkpoint()

    # ---- replication log retention -----------------------------------------------------------
    def log_needs_trim(self, max_size, max_age_ms):
        with self.env.begin() as txn:
            cur = txn.cursor(db=self.log_db)
            if not cur.first():
                return False
            first = _U64.unpack(cur.key())[0]
            if max_size and self.repl_offset + 1 - first > max_size:
                return True
            ts = _LOG_TS.unpack_from(cur.value())[0]
            return bool(max_age_ms) and ts < time.time() * 1000 - max_age_ms

    def trim_log(self, txn, max_size, max_age_ms, keep_from=None, limit=1000):
        """Delete up to `limit` oldest log records that are over the size or age cap; the
        newest record always stays, and so does every byte from `keep_from` on (what a
        syncing or online replica still needs). Returns the number deleted."""
        cur = txn.cursor(db=self.log_db)
        n = 0
        oldest_ok = time.time() * 1000 - max_age_ms if max_age_ms else None
        end = self.repl_offset + 1
        while n < limit and cur.first():
            first = _U64.unpack(cur.key())[0]
            ts = _LOG_TS.unpack_from(cur.value())[0]
            too_big = max_size and end - first > max_size
            too_old = oldest_ok is not None and ts < oldest_ok
            if not (too_big or too_old):
                break
            if not cur.next():
                break                       # keep the newest record
            if keep_from is not None and _U64.unpack(cur.key())[0] > keep_from:
                break                       # the first record still holds needed bytes
            cur.prev()
            cur.delete()
            n += 1
        return n

    # ---- sizes -------------------------------------------------------------------------------
    def data_size(self):
        """Bytes of live pages in all tables (what `maxmemory` limits). Cached for 100 ms."""
        now = time.monotonic()
        at, size = self._size_cache
        if now - at < 0.1:
            return size
        with self.env.begin() as txn:
            size = 0
            for db in (self.meta_db, self.expires_db, self.elems_db, self.log_db, self.sys_db):
                s = txn.stat(db)
                size += (s["branch_pages"] + s["leaf_pages"] + s["overflow_pages"]) * s["psize"]
        self._size_cache = (now, size)
        return size

    def invalidate_size(self):
        self._size_cache = (0.0, 0)

    def file_size(self):
        try:
            return os.path.getsize(os.path.join(self.path, "data.mdb"))
        except OSError:
            return 0

    def map_room(self):
        """Bytes of the LMDB map beyond the last page in use (what new pages may still take
        before a write fails with MapFullError; freed pages are reused first)."""
        info = self.env.info()
        return info["map_size"] - (info["last_pgno"] + 1) * self.page_size

    def over_quota(self):
        limit = self.cfg.maxmemory
        return bool(limit) and self.data_size() > limit

    def close(self):
        """A last durable point (so a later reboot finds nothing to roll back), then close."""
        with self.env_lock:
            try:
                self._checkpoint_locked()
            finally:
                self._close_env()
