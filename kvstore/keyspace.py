"""Per-key records, expiry, and the operations command handlers use on one transaction.

Key record (value in the `meta` table), little-endian header then body:
  u8  type | flags        low nibble: TYPE_*; FLAG_LONG_KEY when the full key follows;
                          FLAG_RAW for OBJECT ENCODING; FLAG_EXPIRES when expire_ms != 0
  i64 expire_ms           0 = no expiry
  u32 mtime               unix seconds of the last write (OBJECT IDLETIME)
  [u32 key length + key]  only with FLAG_LONG_KEY (the table key is a hashed form)
  body                    string: the value bytes; collections: u64 keyid, u64 size, ...

Table keys: `<pdb u32 BE><encoded key>`. Keys up to LONG_KEY_LIMIT bytes are stored as they are
(byte order preserved); longer keys are stored as their first 449 bytes plus their SHA-256, a
length no short key can have, so LMDB's 511-byte key limit never reaches users.

Expiry: a key whose expire_ms <= now is logically absent for normal readers. In a write context
on a primary the first access deletes it and propagates `DEL key` (as Redis's expireIfNeeded
does); the active cycle (`expire_cycle`) walks the ordered `expires` index.

`Batch` stages everything a group commit changes outside the LMDB tables proper (counters, the
log bytes, the stream's selected db) so that a failed commit leaves memory untouched.
"""

import hashlib
import math
import random
from itertools import islice, repeat
import struct
import time
import zlib

from kvstore import errors
from kvstore.errors import CommandError
from kvstore.resp import encode_command

TYPE_STRING, TYPE_LIST, TYPE_SET, TYPE_ZSET, TYPE_HASH, TYPE_STREAM = range(6)
TYPE_NAMES = ("string", "list", "set", "zset", "hash", "stream")
TYPE_MASK = 0x0F
FLAG_LONG_KEY = 0x80
FLAG_RAW = 0x40          # string last written by APPEND/SETRANGE: Redis reports "raw"
FLAG_EXPIRES = 0x20      # expire_ms != 0 (lets readers skip unpacking the header)

HDR = struct.Struct("<BqI")
HDR_SIZE = HDR.size
_U32LE = struct.Struct("<I")
_U64BE = struct.Struct(">Q")
LONG_KEY_LIMIT = 480
_LONG_KEY_HEAD = 449
_LONG_KEY_LEN = _LONG_KEY_HEAD + 32      # encode_key of a long key (no short key has it)

# py-lmdb parses keyword arguments slowly (get 127 -> 79 ns, put 228 -> 158 ns positional on
# this VM): the per-command paths pass the database positionally, as get(key, None, db) and
# put(key, value, True, True, False, db) (dupdata, overwrite, append: py-lmdb's defaults).

EXPIRE_SOON_MAX = 10000                  # expired keys found by reads, queued for deletion
_MULTI = encode_command([b"MULTI"])
_EXEC = encode_command([b"EXEC"])
_WRONG_TYPE = CommandError(errors.WRONG_TYPE)


def now_ms():
    return int(time.time() * 1000)


def encode_key(key):
    if len(key) <= LONG_KEY_LIMIT:
        return key
    return key[:_LONG_KEY_HEAD] + hashlib.sha256(key).digest()


def make_record(type_code, expire_ms, key, body, mtime=None):
    if mtime is None:
        mtime = int(time.time())
    if expire_ms:
        type_code |= FLAG_EXPIRES
    else:
        type_code &= ~FLAG_EXPIRES
    if len(key) <= LONG_KEY_LIMIT:
        return HDR.pack(type_code, expire_ms, mtime) + body
    return b"".join((HDR.pack(type_code | FLAG_LONG_KEY, expire_ms, mtime),
                     _U32LE.pack(len(key)), key, body))


def record_body_offset(rec):
    if rec[0] & FLAG_LONG_KEY:
        return HDR_SIZE + 4 + _U32LE.unpack_from(rec, HDR_SIZE)[0]
    return HDR_SIZE


def record_key(table_key, rec):
    """The user key of a record found by iteration (table_key without the 4-byte pdb)."""
    if rec[0] & FLAG_LONG_KEY:
        n = _U32LE.unpack_from(rec, HDR_SIZE)[0]
        return bytes(rec[HDR_SIZE + 4:HDR_SIZE + 4 + n])
    return bytes(table_key[4:])


def rekey(rec, new_key):
    """`rec` re-addressed to `new_key` (the long-key header depends on the key)."""
    flags, exp, mtime = HDR.unpack_from(rec)
    body = rec[record_body_offset(rec):]
    return make_record(flags & ~FLAG_LONG_KEY & 0xFF, exp, new_key, bytes(body), mtime)


_COLL = struct.Struct("<QQ")               # collection body: key id, element count
FREE_INLINE_MAX = 1024                      # larger collections are freed in the background
ELEM_PLAIN, ELEM_LONG = 0, 1                # element value prefix: name in the key / beside
_SLOT = struct.Struct(">I")
SLOT_SIZE = _SLOT.size
PICK_SPREAD = 16            # a random pick steps 0..15 elements past a random slot (pick)
PICK_COST = 16              # a random pick costs about as much as walking this many elements


def collection_keyid(rec):
    return _COLL.unpack_from(rec, record_body_offset(rec))[0]


def collection_size(rec):
    return _COLL.unpack_from(rec, record_body_offset(rec))[1]


def element_slot(name):
    """The 4-byte hash that orders a set's or a hash's elements: their table key is
    <keyid><slot><name>, so seeking a random slot finds a random element (Collection.pick).
    CRC-32 (C speed, stable across processes and versions), multiplied by an odd constant so
    that names differing in a few bytes spread like random values."""
    return _SLOT.pack((zlib.crc32(name) * 0x9E3779B1) & 0xFFFFFFFF)


def element_key(head, name):
    """The table key of a set's or a hash's element `name` in the collection whose key id
    packs to `head`: <keyid><element_slot(name)><name, hashed when long>."""
    return head + element_slot(name) + (
        name if len(name) <= LONG_KEY_LIMIT else encode_key(name))


def encode_element_value(name, value):
    """Element value: a flag byte, the full name when the table key holds a hashed one."""
    if len(name) <= LONG_KEY_LIMIT:
        return b"\x00" + value
    return b"\x01" + _U32LE.pack(len(name)) + name + value


def decode_element(sub, v):
    """(full name, value) of an element record."""
    if v[0] == ELEM_PLAIN:
        return bytes(sub), bytes(v[1:])
    n = _U32LE.unpack_from(v, 1)[0]
    return bytes(v[5:5 + n]), bytes(v[5 + n:])


def fast_target(ks, key, type_code):
    """(table key, current record or None) of `key` when a fast form (commands.fast_write)
    may update it in place: a short key, missing or holding `type_code` without expiry.
    None otherwise (the full handler then runs: long keys, other types, and keys with an
    expiry, whose lazy DEL it propagates when they are due)."""
    if len(key) > LONG_KEY_LIMIT:
        return None
    tk = ks.prefix + key
    old = ks.txn.get(tk, None, ks.meta_db)
    if old is not None and old[0] & (TYPE_MASK | FLAG_EXPIRES) != type_code:
        return None
    return tk, old


def resized_record(ks, rec, keyid, size):
    """Collection record `rec` (a short key, no expiry) with size `size` and this batch's
    access time, its extra kept: what Collection.save writes when only the size changes."""
    return HDR.pack(rec[0], 0, ks.now // 1000) + _COLL.pack(keyid, size) + rec[
        HDR_SIZE + _COLL.size:]


CONVERT_BATCH = 20000       # elements re-keyed per write transaction by add_element_slots


def add_element_slots(env, meta_db, elems_db, sys_db, progress_key):
    """Storage format 1 -> 2: re-key every set's and hash's elements from <keyid><name> to
    <keyid><slot><name>. A collection moves whole inside one write transaction (several
    small ones share one, up to CONVERT_BATCH elements), which also records the last key
    record converted at `progress_key` in `sys_db`: after a crash the conversion resumes
    there and never converts a collection twice. Returns the number converted."""
    with env.begin() as txn:
        resume = txn.get(progress_key, db=sys_db)
    converted = 0
    while True:
        with env.begin(write=True) as txn:
            cur = txn.cursor(db=meta_db)
            found = cur.set_range(resume) if resume is not None else cur.first()
            if found and resume is not None and cur.key() == resume:
                found = cur.next()
            moved = 0
            while found and moved < CONVERT_BATCH:
                rec = cur.value()
                if rec[0] & TYPE_MASK in (TYPE_SET, TYPE_HASH):
                    head = _U64BE.pack(collection_keyid(rec))
                    ec = txn.cursor(db=elems_db)
                    old = []
                    if ec.set_range(head):
                        for k, v in ec:
                            if k[:8] != head:
                                break
                            old.append((k, v))
                    for k, v in old:
                        txn.delete(k, db=elems_db)
                    for k, v in old:
                        sub = k[8:]
                        txn.put(head + element_slot(decode_element(sub, v)[0]) + sub, v,
                                db=elems_db)
                    moved += len(old) + 1
                    converted += 1
                resume = cur.key()
                found = cur.next()
            if resume is not None:
                txn.put(progress_key, resume, db=sys_db)
        if not found:
            return converted


class Collection:
    """A collection key opened for reading or writing within one command.

    `get`/`put`/`delete`/`items`/`pick` work on a set's or a hash's elements by name (any
    length), stored at <keyid><element_slot(name)><name> (lists and sorted sets wrap a
    Collection and key their own records); `save(expire)` writes the key
    record with the new size, or deletes the key when it became empty (Redis never keeps empty
    collections). `big` (FLAG_RAW on collection records) mirrors Redis's one-way conversion
    from the compact encoding (listpack/intset) to the big one, for OBJECT ENCODING.
    """

    __slots__ = ("ks", "key", "prefix", "rec", "type_code", "keyid", "size", "head", "big",
                 "elems", "max_len", "extra", "order")

    def __init__(self, ks, key, rec, prefix):
        self.ks = ks
        self.key = key
        self.prefix = prefix
        self.rec = rec
        self.type_code = rec[0] & TYPE_MASK
        off = record_body_offset(rec)
        self.keyid, self.size = _COLL.unpack_from(rec, off)
        self.extra = bytes(rec[off + _COLL.size:])     # type-specific (a list's head index)
        self.big = bool(rec[0] & FLAG_RAW)
        self.head = _U64BE.pack(self.keyid)
        self.elems = ks.storage.elems_db
        self.max_len = 0             # longest element name/value written by this command
        self.order = None            # a small hash's field names in insertion order (loaded)

    @classmethod
    def open(cls, ks, key, type_code, prefix=None):
        """The live collection at `key`, None if missing; WRONGTYPE for another type."""
        prefix = ks.prefix if prefix is None else prefix
        rec = ks.lookup(key, prefix)
        if rec is None:
            return None
        if rec[0] & TYPE_MASK != type_code:
            raise _WRONG_TYPE
        return cls(ks, key, rec, prefix)

    @classmethod
    def create(cls, ks, key, type_code, prefix=None, extra=b""):
        """A new, empty collection (stored on save(), if it gained elements)."""
        prefix = ks.prefix if prefix is None else prefix
        rec = make_record(type_code, 0, key, _COLL.pack(ks.new_keyid(), 0) + extra)
        c = cls(ks, key, rec, prefix)
        c.rec = None
        return c

    @classmethod
    def open_or_create(cls, ks, key, type_code, extra=b""):
        return cls.open(ks, key, type_code) or cls.create(ks, key, type_code, extra=extra)

    def _sub(self, name):
        return element_key(self.head, name)

    def get(self, name):
        v = self.ks.txn.get(self._sub(name), None, self.elems)
        if v is None:
            return None
        return bytes(v[1:]) if v[0] == ELEM_PLAIN else decode_element(b"", v)[1]

    def put(self, name, value):
        """Set element `name`; returns True if it is new."""
        n = len(name) if len(name) > len(value) else len(value)
        if n > self.max_len:
            self.max_len = n
        order = self._hash_order()           # (loaded before the element changes)
        old = self.ks.txn.replace(self._sub(name), encode_element_value(name, value),
                                  db=self.elems)
        if old is None:
            self.size += 1
            if order is not None:
                order.append(name)
            return True
        return False

    def delete(self, name):
        order = self._hash_order()
        if self.ks.txn.delete(self._sub(name), db=self.elems):
            self.size -= 1
            if order is not None:
                order.remove(name)
            return True
        return False

    def items(self):
        """(name, value) of every element: a small hash's in insertion order (what Redis's
        listpack gives), everything else in byte order."""
        order = self._hash_order()
        if order is None:
            return self.ks.elements(self.keyid)
        return [(name, self.get(name)) for name in order]

    @staticmethod
    def fast_hset(ks, key, field, value):
        """HSET key field value's records without the Collection machinery, for a short key
        holding a hash without expiry and a short field, when the hash's encoding stays as it
        is: a big hash, or a small one whose field exists and whose value stays within
        hash-max-listpack-value (a new field of a small hash changes its field order; a new
        key, its encoding). Returns 1 for a new field, 0 for an updated one; None, having
        touched nothing, in every other case. (The caller logs the command.)"""
        target = fast_target(ks, key, TYPE_HASH) if len(field) <= LONG_KEY_LIMIT else None
        if target is None or target[1] is None:
            return None
        tk, old = target
        txn = ks.txn
        keyid, size = _COLL.unpack_from(old, HDR_SIZE)
        sub = element_key(_U64BE.pack(keyid), field)
        elems = ks.storage.elems_db
        if old[0] & FLAG_RAW:
            if txn.replace(sub, b"\x00" + value, db=elems) is None:
                txn.put(tk, resized_record(ks, old, keyid, size + 1), db=ks.meta_db)
                return 1
        elif (len(value) <= ks.storage.cfg.hash_max_listpack_value
              and txn.get(sub, db=elems) is not None):
            txn.put(sub, b"\x00" + value, db=elems)
        else:
            return None
        txn.put(tk, resized_record(ks, old, keyid, size), db=ks.meta_db)
        return 0

    @staticmethod
    def fast_sadd(ks, key, member):
        """SADD key member's records without the Collection machinery, for a short key
        holding a set without expiry in the big encoding (no intset conversion to decide)
        and a short member. Returns 1 for a new member, 0 for a present one (nothing
        written: SADD changes nothing); None, having touched nothing, in every other case.
        (The caller logs the command for a new member.)"""
        target = fast_target(ks, key, TYPE_SET) if len(member) <= LONG_KEY_LIMIT else None
        if target is None or target[1] is None or not target[1][0] & FLAG_RAW:
            return None
        tk, old = target
        keyid, size = _COLL.unpack_from(old, HDR_SIZE)
        if not ks.txn.put(element_key(_U64BE.pack(keyid), member), b"\x00",
                          db=ks.storage.elems_db, overwrite=False):
            return 0
        ks.txn.put(tk, resized_record(ks, old, keyid, size + 1), db=ks.meta_db)
        return 1

    def cursor(self):
        return self.ks.txn.cursor(db=self.elems)

    def pick(self, cur):
        """A random element (name, value) of this non-empty set or hash, using cursor `cur`
        (self.cursor()): O(log n). The element after a random slot, then 0..PICK_SPREAD-1
        more (wrapping around): an element's chance is the mean of the PICK_SPREAD slot gaps
        before it, which varies far less than one gap does (a coefficient of variation of
        about 0.25 against 1), so picks are close to uniform, as Redis's are."""
        head = self.head
        hl = len(head)
        if not (cur.set_range(head + _SLOT.pack(random.getrandbits(32)))
                and cur.key()[:hl] == head):
            cur.set_range(head)
        for _ in range(random.randrange(PICK_SPREAD)):
            if not (cur.next() and cur.key()[:hl] == head):
                cur.set_range(head)
        return decode_element(cur.key()[hl + SLOT_SIZE:], cur.value())

    def random_items(self, count):
        """(name, value) of random elements of this non-empty set or hash, with the meaning
        SRANDMEMBER and HRANDFIELD give `count`: count < 0, -count picks (repeats allowed);
        count >= size, every element; else `count` distinct ones. Picks cost O(log n) each
        (see pick); when they would be many for the size, one walk over the collection is
        cheaper and is what Redis does too (it copies the set when count * 3 > size)."""
        size = self.size
        if count < 0:
            if -count * PICK_COST > size:
                items = list(self.items())
                return [random.choice(items) for _ in range(-count)]
            cur = self.cursor()
            return [self.pick(cur) for _ in range(-count)]
        if count >= size:
            return list(self.items())
        if count * PICK_COST > size:                # (also covers Redis's count * 3 > size)
            return random.sample(list(self.items()), count)
        chosen = {}
        cur = self.cursor()
        # Picks are nearly uniform and count <= size / 3, so this ends after about
        # 1.2 * count picks; the bound only guards against the impossible.
        for _ in range(count * 100):
            name, value = self.pick(cur)
            chosen.setdefault(name, value)
            if len(chosen) == count:
                return list(chosen.items())
        return random.sample(list(self.items()), count)

    # A small hash keeps its field names in insertion order in the record's `extra`:
    # _HASH_ORDER, then (u32 length, name) per field. Big hashes (Redis's hash table order,
    # which nobody can rely on) and hashes from before keep none and list in byte order.
    def _hash_order(self):
        if self.type_code != TYPE_HASH or self.big:
            return None
        if self.order is None:
            extra = self.extra
            if extra[:1] == _HASH_ORDER:
                names, pos = [], 1
                while pos < len(extra):
                    n = _U32LE.unpack_from(extra, pos)[0]
                    names.append(extra[pos + 4:pos + 4 + n])
                    pos += 4 + n
                self.order = names
            else:
                self.order = [name for name, _ in self.ks.elements(self.keyid)]
        return self.order

    def save(self, expire_ms=None, compact_limits=None):
        """Write the key record (size, encoding flag), or delete the key when empty."""
        ks = self.ks
        if self.size == 0:
            if self.rec is not None:
                ks._remove(self.prefix, self.key, self.rec)
                ks.notify("g", b"del", self.key)
            return
        if compact_limits is not None and not self.big:
            max_entries, max_value = compact_limits
            if self.size > max_entries or self.max_len > max_value:
                self.big = True
        if self.type_code == TYPE_HASH:
            if self.big:
                self.extra = b""
            elif self.order is not None:
                self.extra = _HASH_ORDER + b"".join(
                    _U32LE.pack(len(name)) + name for name in self.order)
        if expire_ms is None:
            expire_ms = record_expire(self.rec) if self.rec is not None else 0
        flags = self.type_code | (FLAG_RAW if self.big else 0)
        rec = make_record(flags, expire_ms, self.key,
                          _COLL.pack(self.keyid, self.size) + self.extra)
        ks.set_record(self.key, rec, self.rec, prefix=self.prefix, old_known=True)
        self.rec = rec


_HASH_ORDER = b"\x02"                       # a small hash's extra: see Collection.items
_LIST_HEAD = struct.Struct("<q")            # a list's extra: index of its first element
_IDX = struct.Struct(">Q")
_IDX_BIAS = 1 << 63                          # offset binary: signed indices sort as bytes


class ListValue:
    """A list on element records keyed by position: `<keyid><index + 2**63, u64 BE>`. The
    key record keeps (size, head index), so push/pop at either end and LINDEX/LSET are
    O(log n), LRANGE is a cursor walk; inserts and removals in the middle renumber the tail
    (O(n), as in Redis)."""

    __slots__ = ("coll", "txn", "elems", "head_key", "first")

    def __init__(self, coll):
        self.coll = coll
        self.txn = coll.ks.txn
        self.elems = coll.elems
        self.head_key = coll.head
        self.first = _LIST_HEAD.unpack(coll.extra)[0] if coll.extra else 0

    @classmethod
    def open(cls, ks, key, prefix=None):
        coll = Collection.open(ks, key, TYPE_LIST, prefix)
        return None if coll is None else cls(coll)

    @classmethod
    def create(cls, ks, key, prefix=None):
        return cls(Collection.create(ks, key, TYPE_LIST, prefix, extra=_LIST_HEAD.pack(0)))

    @classmethod
    def open_or_create(cls, ks, key):
        return cls.open(ks, key) or cls.create(ks, key)

    @property
    def size(self):
        return self.coll.size

    def _k(self, pos):
        return self.head_key + _IDX.pack(self.first + pos + _IDX_BIAS)

    def get(self, pos):
        """Element at 0-based position `pos` (no bounds check beyond the table)."""
        v = self.txn.get(self._k(pos), db=self.elems)
        return None if v is None else bytes(v)

    def set(self, pos, value):
        self.txn.put(self._k(pos), value, db=self.elems)

    def push(self, value, left):
        if left:
            self.first -= 1
            self.txn.put(self._k(0), value, db=self.elems)
        else:
            self.txn.put(self._k(self.coll.size), value, db=self.elems)
        self.coll.size += 1

    def pop(self, left):
        pos = 0 if left else self.coll.size - 1
        k = self._k(pos)
        v = bytes(self.txn.pop(k, db=self.elems))
        if left:
            self.first += 1
        self.coll.size -= 1
        return v

    def range(self, start, stop):
        """Elements start..stop inclusive (already clamped to the list)."""
        out = []
        if start > stop:
            return out
        cur = self.txn.cursor(db=self.elems)
        if not cur.set_key(self._k(start)):
            return out
        n = stop - start + 1
        for v in cur.iternext(keys=False, values=True):
            out.append(bytes(v))
            if len(out) == n:
                break
        return out

    def all(self):
        return self.range(0, self.coll.size - 1)

    def rewrite(self, values):
        """Replace the whole content (LINSERT/LREM renumbering)."""
        for i in range(self.coll.size):
            self.txn.delete(self._k(i), db=self.elems)
        self.first = 0
        self.coll.size = 0
        for v in values:
            self.push(v, left=False)

    def trim(self, start, stop):
        """Keep positions start..stop (clamped; start > stop empties the list)."""
        size = self.coll.size
        keep_from, keep_to = (start, stop) if start <= stop else (size, size - 1)
        for i in list(range(0, min(keep_from, size))) + list(range(keep_to + 1, size)):
            self.txn.delete(self._k(i), db=self.elems)
        removed = size - max(0, keep_to - keep_from + 1)
        self.first += min(keep_from, size)
        self.coll.size = max(0, keep_to - keep_from + 1)
        return removed

    def save(self, expire_ms=None):
        self.coll.extra = _LIST_HEAD.pack(self.first)
        self.coll.save(expire_ms)

    @staticmethod
    def fast_pop(ks, key, left):
        """LPOP/RPOP's records without the Collection machinery, for a short `key` holding a
        list without expiry that keeps at least one element (else None, nothing touched):
        the element record and the key record. Returns the popped value."""
        target = fast_target(ks, key, TYPE_LIST)
        if target is None or target[1] is None:
            return None
        tk, old = target
        txn = ks.txn
        keyid, size = _COLL.unpack_from(old, HDR_SIZE)
        if size < 2:
            return None                 # the key goes: the full handler deletes it
        at = HDR_SIZE + _COLL.size
        first = _LIST_HEAD.unpack_from(old, at)[0] if len(old) > at else 0
        pos = first if left else first + size - 1
        value = txn.pop(_U64BE.pack(keyid) + _IDX.pack(pos + _IDX_BIAS), db=ks.storage.elems_db)
        if left:
            first += 1
        txn.put(tk, HDR.pack(old[0], 0, ks.now // 1000) + _COLL.pack(keyid, size - 1)
                + _LIST_HEAD.pack(first), db=ks.meta_db)
        return bytes(value)

    @staticmethod
    def fast_push(ks, key, values, left):
        """LPUSH/RPUSH's records without the Collection machinery, for a short `key` that is
        missing or a list without expiry (else None, nothing touched): the element records,
        the key record and, for a new key, the key count. Returns the new length. (The
        caller logs the command; no keyspace notifications or waiters are involved: see
        commands.fast_write.)"""
        target = fast_target(ks, key, TYPE_LIST)
        if target is None:
            return None
        tk, old = target
        txn = ks.txn
        if old is None:
            flags, keyid, size, first = TYPE_LIST, ks.new_keyid(), 0, 0
            ks.batch.counts_of(ks.pdb)[0] += 1
        else:
            flags = old[0]
            keyid, size = _COLL.unpack_from(old, HDR_SIZE)
            at = HDR_SIZE + _COLL.size
            first = _LIST_HEAD.unpack_from(old, at)[0] if len(old) > at else 0
        head = _U64BE.pack(keyid)
        put = txn.put
        elems = ks.storage.elems_db
        for v in values:
            if left:
                first -= 1
                put(head + _IDX.pack(first + _IDX_BIAS), v, db=elems)
            else:
                put(head + _IDX.pack(first + size + _IDX_BIAS), v, db=elems)
            size += 1
        put(tk, HDR.pack(flags, 0, ks.now // 1000) + _COLL.pack(keyid, size)
            + _LIST_HEAD.pack(first), db=ks.meta_db)
        return size


_SCORE = struct.Struct("<d")


def sortable_score(score):
    """8 bytes whose byte order is the numeric order of the double (-0.0 as 0.0)."""
    if score == 0:
        score = 0.0
    (bits,) = struct.unpack(">Q", struct.pack(">d", score))
    bits = bits ^ 0xFFFFFFFFFFFFFFFF if bits >> 63 else bits | (1 << 63)
    return _IDX.pack(bits)


_SIGN = 1 << 63
_ALL = 0xFFFFFFFFFFFFFFFF
_SCORE_BE = struct.Struct(">d")


def score_from_sortable(b):
    """The double of sortable_score's 8 bytes (ZSetValue.iterate inlines this)."""
    (bits,) = _IDX.unpack(b)
    return _SCORE_BE.unpack(_IDX.pack(bits ^ _SIGN if bits & _SIGN else bits ^ _ALL))[0]


def is_negative_zero(score):
    return score == 0 and math.copysign(1.0, score) < 0


ZSET_FANOUT = 64                 # rank-tree children per node: split above 2x, merge below 1/2
_ZSET_TREE = b"\x03"             # a zset's `extra`: it keeps the rank tree
_ZSET_NEG_ZERO = b"\x04"         # ... and a member record may hold the score -0.0
_NODE = struct.Struct("<IQ")     # rank-tree node: children, index entries covered
_LEVEL_BYTE = tuple(bytes((level,)) for level in range(256))   # a node key's level byte


class ZSetValue:
    """A sorted set on element records: `<keyid>m<member>` -> score and the score index
    `<keyid>s<sortable score><member>`, ordered like Redis's skiplist (score, then member
    bytes). Score lookups and updates are O(log n); ranges walk the index from the first match
    (O(log n + m)).

    Ranks come from a counted B-tree over the index, kept in element records
    `<keyid>c<level u8><first index key>` -> (children, entries). Level 1 nodes cut the index
    into runs of consecutive entries, level L+1 nodes cut level L into runs of consecutive
    nodes, and the top level holds one node (the root) covering everything; a node is named
    by the first index entry it covers. `set`/`remove` update one node per level (split above
    2 x ZSET_FANOUT children, merged into the previous sibling below ZSET_FANOUT / 2), so a
    write costs O(levels) lookups and a rank or the entry at a rank is a walk down the levels,
    at most 2 x ZSET_FANOUT steps each: O(log n) for both. Zsets written before the tree
    existed (no `_ZSET_TREE` mark) walk the index instead.

    Negative zero, as Redis 7.0 keeps it: a zset in the big encoding (Redis's skiplist) stores
    a -0 score as given, the compact one (listpack) stores 0. `set` converts to big before the
    insert that overflows the compact limits, as Redis's zsetAdd does, so one ZADD may store 0
    for its first members and -0 for later ones. Index keys hold every zero as 0.0 (-0 == 0 in
    the order); member records hold the sign, and once one holds -0 the `_ZSET_NEG_ZERO` mark
    makes readers of scores from index keys take a zero's sign from its member record (a
    zset from before the rank tree has no room for the mark and stores 0)."""

    __slots__ = ("coll", "txn", "elems", "mhead", "shead", "send", "chead", "counted",
                 "neg_zero", "_cur")

    def __init__(self, coll):
        self.coll = coll
        self.txn = coll.ks.txn
        self.elems = coll.elems
        self.mhead = coll.head + b"m"
        self.shead = coll.head + b"s"
        self.send = coll.head + b"t"
        self.chead = coll.head + b"c"
        self.counted = coll.extra == _ZSET_TREE or coll.extra == _ZSET_NEG_ZERO
        self.neg_zero = coll.extra == _ZSET_NEG_ZERO
        self._cur = None             # the rank tree's point lookups share one cursor

    @classmethod
    def open(cls, ks, key, prefix=None):
        coll = Collection.open(ks, key, TYPE_ZSET, prefix)
        return None if coll is None else cls(coll)

    @classmethod
    def create(cls, ks, key, prefix=None):
        return cls(Collection.create(ks, key, TYPE_ZSET, prefix, extra=_ZSET_TREE))

    @classmethod
    def open_or_create(cls, ks, key):
        return cls.open(ks, key) or cls.create(ks, key)

    @property
    def size(self):
        return self.coll.size

    @staticmethod
    def _sub(member):
        return member if len(member) <= LONG_KEY_LIMIT else encode_key(member)

    def score(self, member):
        v = self.txn.get(self.mhead + self._sub(member), None, self.elems)
        if v is None:
            return None
        return _SCORE.unpack_from(v, len(v) - 8)[0]

    def set(self, member, score, old=None, limits=None):
        """Store `member` with `score` (`old`: its current score or None). `limits`: the
        compact encoding's (max entries, max member length) when a new member converts a
        compact zset to big as it overflows them (ZADD, ZINCRBY, ZRANGESTORE); callers that
        decide the encoding from the whole result set `coll.big` before (see the class)."""
        coll = self.coll
        if (old is None and limits is not None and not coll.big
                and (coll.size >= limits[0] or len(member) > limits[1])):
            coll.big = True
        if score == 0:
            if coll.big and self.counted and is_negative_zero(score):
                if not self.neg_zero:
                    self.neg_zero = True
                    coll.extra = _ZSET_NEG_ZERO
            else:
                score = 0.0
        sub = self._sub(member)
        txn = self.txn
        counted = self.counted
        ikey = sortable_score(score) + sub
        if old is not None:
            if old == score:
                return                        # same index entry, same score record
            old_ikey = sortable_score(old) + sub
            if counted and self._tree_moved(old_ikey, ikey):
                counted = False               # the tree is up to date already
            txn.delete(self.shead + old_ikey, db=self.elems)
            if counted:
                self._tree_removed(old_ikey)
        else:
            self.coll.size += 1
            n = len(member)
            if n > self.coll.max_len:
                self.coll.max_len = n
        txn.put(self.mhead + sub, encode_element_value(member, _SCORE.pack(score)),
                db=self.elems)
        txn.put(self.shead + ikey, encode_element_value(member, b""), db=self.elems)
        if counted:
            self._tree_added(ikey)

    @classmethod
    def fast_set(cls, ks, key, member, score):
        """ZADD key score member's records without the command machinery, for a short key
        holding a sorted set without expiry and a short member, when the set's encoding
        stays as it is: an existing member, or a new member of a set already in the big
        encoding. Returns (1 for a new member else 0, whether anything changed: not for
        the same score, where ZADD writes nothing); None, having touched nothing, in every
        other case. (The caller logs the command when something changed.)"""
        if len(member) > LONG_KEY_LIMIT or is_negative_zero(score):
            return None                       # (-0: set may have to mark the zset)
        target = fast_target(ks, key, TYPE_ZSET)
        if target is None or target[1] is None:
            return None
        tk, rec = target
        z = cls(Collection(ks, key, rec, ks.prefix))
        old = z.score(member)
        if old is None:
            if not z.coll.big:
                return None                   # the encoding may change: zadd's save decides
            z.set(member, score)
            added = 1
        elif old == score:
            return 0, False
        else:
            z.set(member, score, old)
            added = 0
        ks.txn.put(tk, resized_record(ks, rec, z.coll.keyid, z.coll.size), db=ks.meta_db)
        return added, True

    def store_zeros_unsigned(self):
        """Rewrite every -0 score as 0 and drop the `_ZSET_NEG_ZERO` mark (the zset turns
        compact)."""
        if not self.neg_zero:
            return
        for member, score in list(self.iterate()):
            if is_negative_zero(score):
                self.txn.put(self.mhead + self._sub(member),
                             encode_element_value(member, _SCORE.pack(0.0)), db=self.elems)
        self.neg_zero = False
        self.coll.extra = _ZSET_TREE

    def remove(self, member, score=None):
        if score is None:
            score = self.score(member)
            if score is None:
                return False
        sub = self._sub(member)
        ikey = sortable_score(score) + sub
        self.txn.delete(self.mhead + sub, db=self.elems)
        self.txn.delete(self.shead + ikey, db=self.elems)
        if self.counted:
            self._tree_removed(ikey)
        self.coll.size -= 1
        return True

    # ---- rank tree ---------------------------------------------------------------------------
    # A node is handled as [first index key, children, entries]; level 0 is the index itself.
    def _nhead(self, level):
        return self.chead + _LEVEL_BYTE[level]

    def _cursor(self):
        """The cursor of point lookups (positioned afresh by each; generators such as
        `_walk` open their own)."""
        if self._cur is None:
            self._cur = self.txn.cursor(db=self.elems)
        return self._cur

    def _top(self):
        """The root's level (0 when the tree is empty)."""
        cur = self._cursor()
        if cur.set_range(self.chead + b"\xff"):
            if not cur.prev():
                return 0
        elif not cur.last():
            return 0
        k = cur.key()
        n = len(self.chead)
        return k[n] if k[:n] == self.chead and len(k) > n else 0

    def _node_at(self, cur, head):
        k = cur.key()
        if k[:len(head)] != head:
            return None
        children, entries = _NODE.unpack(cur.value())
        return [bytes(k[len(head):]), children, entries]

    def _floor(self, level, ikey):
        """The node of `level` covering index key `ikey` (the last one starting at or
        before it), or None when `ikey` comes before every node."""
        head = self._nhead(level)
        cur = self._cursor()
        target = head + ikey
        if cur.set_range(target):
            if cur.key() != target and not cur.prev():
                return None
        elif not cur.last():
            return None
        return self._node_at(cur, head)

    def _first(self, level):
        head = self._nhead(level)
        cur = self._cursor()
        return self._node_at(cur, head) if cur.set_range(head) else None

    def _prev_sibling(self, level, first):
        head = self._nhead(level)
        cur = self._cursor()
        if not cur.set_key(head + first) or not cur.prev():
            return None
        return self._node_at(cur, head)

    def _tree_moved(self, old, new):
        """Index entry `old` (present) is about to become `new` (absent). When that splits,
        merges and renames no node, update the tree in place and return True: the entry
        counts of the two level-1 nodes and of their ancestors up to the first one they
        share (usually below the root), nothing when both lie in one node (ZINCRBY by a
        little). Otherwise change nothing and return False (the caller removes `old` and
        adds `new`). This halves a score change's tree work in a large zset."""
        node_a = self._floor(1, old)
        if node_a is None or node_a[0] == old:
            return False                      # old names its node: a rename
        cur = self._cursor()                  # (left on node_a by _floor)
        head = self._nhead(1)
        after = None                          # the next level-1 node's first key
        if cur.next():
            k = cur.key()
            if k[:len(head)] == head:
                after = bytes(k[len(head):])
        if new > node_a[0] and (after is None or new < after):
            return True                       # same node: no count changes anywhere
        node_b = self._floor(1, new)
        if (node_b is None or node_a[1] <= ZSET_FANOUT // 2
                or node_b[1] >= 2 * ZSET_FANOUT):
            return False                      # new smallest entry, a merge or a split
        node_b[1] += 1
        node_b[2] += 1
        self._put_node(1, node_b)             # (first: the cursor is still on it)
        node_a[1] -= 1
        node_a[2] -= 1
        self._put_node(1, node_a)
        # Above level 1 no node gains or loses a child: only entry counts change, up to
        # the first common ancestor (the root at the latest).
        for level in range(2, self._top()):
            parent_a = self._floor(level, old)
            parent_b = self._floor(level, new)
            if parent_a[0] == parent_b[0]:
                break
            parent_b[2] += 1
            self._put_node(level, parent_b)
            parent_a[2] -= 1
            self._put_node(level, parent_a)
        return True

    def _put_node(self, level, node):
        # Through the lookup cursor: LMDB skips the descent from the root when the key is
        # on the page the cursor is on (a node just found by _floor).
        self._cursor().put(self._nhead(level) + node[0], _NODE.pack(node[1], node[2]))

    def _del_node(self, level, first):
        self.txn.delete(self._nhead(level) + first, db=self.elems)

    def _walk(self, level, start):
        """(first index key, entries) of the records of `level` (0: index entries) from
        index key `start` on, in order."""
        head = self.shead if level == 0 else self._nhead(level)
        n = len(head)
        cur = self.txn.cursor(db=self.elems)
        if not cur.set_range(head + start):
            return
        if level == 0:
            for k in cur.iternext(values=False):
                if k[:n] != head:
                    return
                yield k[n:], 1
        else:
            for k, v in cur:
                if k[:n] != head:
                    return
                yield k[n:], _NODE.unpack(v)[1]

    def _split(self, level, node):
        """Split an overfull node after its first ZSET_FANOUT children; returns the new one."""
        left = 0
        mid = None
        for i, (first, entries) in enumerate(self._walk(level - 1, node[0])):
            if i == ZSET_FANOUT:
                mid = bytes(first)
                break
            left += entries
        right = [mid, node[1] - ZSET_FANOUT, node[2] - left]
        node[1], node[2] = ZSET_FANOUT, left
        self._put_node(level, node)
        self._put_node(level, right)
        return right

    def _tree_added(self, ikey):
        """Index entry `ikey` was inserted."""
        top = self._top()
        if top == 0:
            self._put_node(1, [ikey, 1, 1])
            return
        grew = True                           # level 1 gains a child: the entry itself
        for level in range(1, top + 1):
            node = self._floor(level, ikey)
            if node is None:
                # A new smallest entry: the first node of every level now starts with it.
                node = self._first(level)
                self._del_node(level, node[0])
                node[0] = ikey
            node[2] += 1
            if grew:
                node[1] += 1
            grew = node[1] > 2 * ZSET_FANOUT
            if not grew:
                self._put_node(level, node)
                continue
            right = self._split(level, node)
            if level == top:
                self._put_node(top + 1, [node[0], 2, node[2] + right[2]])

    def _tree_removed(self, ikey):
        """Index entry `ikey` was deleted."""
        top = self._top()
        if top == 0:
            return
        successor = None
        shrunk = {}                           # level -> first key of a node now small
        dropped = False                       # a node went: the root may have one child
        lost = True                           # level 1 loses a child: the entry itself
        for level in range(1, top + 1):
            node = self._floor(level, ikey)
            node[2] -= 1
            if lost:
                node[1] -= 1
            lost = node[2] == 0
            if lost:
                self._del_node(level, node[0])
                dropped = True
                continue
            if node[0] == ikey:
                # Its first entry went: the next index entry (in this node) names it now.
                if successor is None:
                    successor = next(self._walk(0, ikey))[0]
                    successor = bytes(successor)
                self._del_node(level, ikey)
                node[0] = successor
            self._put_node(level, node)
            if node[1] < ZSET_FANOUT // 2 and level < top:
                shrunk[level] = node[0]
        if shrunk or dropped:
            self._rebalance(shrunk, top)

    def _rebalance(self, shrunk, top):
        """Merge small nodes into their previous sibling (same parent only, and only while
        the result stays within 2 x ZSET_FANOUT children); drop roots with one child. `top`:
        the root's level before the removal (the removal itself never drops a level unless
        the tree became empty, where `_first` below finds no root)."""
        for level in range(1, top):
            first = shrunk.get(level)
            if first is None:
                continue
            node = self._floor(level, first)
            parent = self._floor(level + 1, first)
            if node is None or node[0] != first or parent is None or parent[0] == first:
                continue
            prev = self._prev_sibling(level, first)
            if prev is None or prev[1] + node[1] > 2 * ZSET_FANOUT:
                continue
            self._del_node(level, first)
            prev[1] += node[1]
            prev[2] += node[2]
            self._put_node(level, prev)
            parent[1] -= 1
            self._put_node(level + 1, parent)
            if parent[1] < ZSET_FANOUT // 2:
                shrunk[level + 1] = parent[0]
        while top > 1:
            root = self._first(top)
            if root is None or root[1] > 1:
                break
            self._del_node(top, root[0])
            top -= 1

    def _count_before(self, ikey):
        """How many index entries sort before index key `ikey` (which need not exist)."""
        top = self._top() if self.counted else 0
        before = 0
        start = b""
        if top:
            root = self._first(top)
            if ikey <= root[0]:
                return 0
            start = root[0]
            for level in range(top, 1, -1):
                # The children of node `start`: all but the last one starting before `ikey`
                # lie wholly before it.
                last = None
                for first, entries in self._walk(level - 1, start):
                    if first >= ikey:
                        break
                    if last is not None:
                        before += last[1]
                    last = (bytes(first), entries)
                start = last[0]
        for first, _ in self._walk(0, start):
            if first >= ikey:
                break
            before += 1
        return before

    def key_at_rank(self, rank):
        """The index key (full table key) of the entry at `rank` from the start."""
        top = self._top() if self.counted else 0
        start = b""
        if top:
            start = self._first(top)[0]
            for level in range(top, 1, -1):
                for first, entries in self._walk(level - 1, start):
                    if rank < entries:
                        start = bytes(first)
                        break
                    rank -= entries
                else:
                    return None
        for first, _ in self._walk(0, start):
            if rank == 0:
                return self.shead + bytes(first)
            rank -= 1
        return None

    def _index_keys(self, rev, start_key):
        """(cursor, iterator over index keys from `start_key` inclusive, in index order or
        reversed), or None when there is nothing there; the iterator may run past this
        zset's entries (callers stop at the first key without self.shead)."""
        cur = self.txn.cursor(db=self.elems)
        shead = self.shead
        if not rev:
            if not cur.set_range(start_key or shead):
                return None
            return cur, cur.iternext(keys=True, values=False)
        if start_key is None:
            start_key = self.send
        if cur.set_range(start_key):
            if cur.key() > start_key or cur.key()[:len(shead)] != shead:
                if not cur.prev():
                    return None
        elif not cur.last():
            return None
        return cur, cur.iterprev(keys=True, values=False)

    def _long_member(self, index_key):
        v = self.txn.get(index_key, db=self.elems)
        return bytes(v[5:5 + _U32LE.unpack_from(v, 1)[0]])

    def iterate(self, rev=False, start_key=None, scores=True):
        """(member, score) in index order (or reversed), from index key `start_key` (a full
        index key or prefix) inclusive; the score is None unless `scores`."""
        found = self._index_keys(rev, start_key)
        if found is None:
            return
        shead = self.shead
        hl = len(shead)
        at = hl + 8
        long_len = at + _LONG_KEY_LEN
        for k in found[1]:
            if k[:hl] != shead:
                return
            # (a long member is hashed in the key and in full in the value)
            member = k[at:] if len(k) != long_len else self._long_member(k)
            if not scores:
                yield member, None
                continue
            score = score_from_sortable(k[hl:at])
            yield member, (score if score or not self.neg_zero else self.score(member))

    def take_from_rank(self, rank, count, rev=False, scores=True):
        """Up to `count` (member, score) pairs from the entry at `rank` (counted from the end
        when `rev`), as a list: ZRANGE's hot path, built with list operations instead of a
        generator step per entry. Scores are None unless `scores`."""
        keys = self._keys_from_rank(rank, count, rev)
        if not keys:
            return []
        members = self._members_of(keys)
        if not scores:
            return list(zip(members, repeat(None)))
        hl = len(self.shead)
        at = hl + 8
        unpack, pack, unpack_d = _IDX.unpack, _IDX.pack, _SCORE_BE.unpack
        bits = [unpack(k[hl:at])[0] for k in keys]
        pairs = list(zip(members, [unpack_d(pack(b ^ _SIGN if b & _SIGN else b ^ _ALL))[0]
                                   for b in bits]))
        if self.neg_zero:
            pairs = [(m, s if s else self.score(m)) for m, s in pairs]
        return pairs

    def members_from_rank(self, rank, count, rev=False):
        """take_from_rank's members alone (ZRANGE by rank without scores)."""
        keys = self._keys_from_rank(rank, count, rev)
        return self._members_of(keys) if keys else []

    def _keys_from_rank(self, rank, count, rev):
        """Up to `count` index keys from the entry at `rank` (see take_from_rank)."""
        if not 0 <= rank < self.coll.size or count <= 0:
            return None
        if rank == 0:                   # (top N, the frequent case: no rank lookup)
            found = self._index_keys(rev, None)
        else:
            key = self.key_at_rank(self.coll.size - 1 - rank if rev else rank)
            found = None if key is None else self._index_keys(rev, key)
        if found is None:
            return None
        keys = list(islice(found[1], min(count, self.coll.size - rank)))
        shead = self.shead
        hl = len(shead)
        while keys and keys[-1][:hl] != shead:      # (only ever the tail: keys are sorted)
            keys.pop()
        return keys

    def _members_of(self, keys):
        """The members named by index keys (a long member's key holds a hash of it: its
        value holds it whole)."""
        at = len(self.shead) + 8
        long_len = at + _LONG_KEY_LEN
        return [k[at:] if len(k) != long_len else self._long_member(k) for k in keys]

    def iterate_from_rank(self, rank, rev=False, scores=True):
        """(member, score) from the entry at `rank` (counted from the end when `rev`)."""
        if not 0 <= rank < self.coll.size:
            return iter(())
        pos = self.coll.size - 1 - rank if rev else rank
        key = self.key_at_rank(pos)
        if key is None:
            return iter(())
        return self.iterate(rev=rev, start_key=key, scores=scores)

    def seek_score(self, score, exclusive, rev):
        """Index key to start a by-score walk at `score` (see iterate)."""
        s = sortable_score(score)
        if not rev:
            return self.shead + s + (b"\xff" * 494 if exclusive else b"")
        return self.shead + s + (b"" if exclusive else b"\xff" * 494)

    def rank(self, member, rev=False):
        score = self.score(member)
        if score is None:
            return None
        n = self._count_before(sortable_score(score) + self._sub(member))
        return self.coll.size - 1 - n if rev else n

    def count_between(self, lo, hi):
        """How many index entries sort at or after index key `lo` and before `hi`."""
        return max(0, self._count_before(hi) - self._count_before(lo))

    def uniform_score(self):
        """The sortable score every member shares, or None (empty or mixed scores)."""
        cur = self.txn.cursor(db=self.elems)
        n = len(self.shead)
        if not cur.set_range(self.shead) or cur.key()[:n] != self.shead:
            return None
        first = cur.key()[n:n + 8]
        if cur.set_range(self.send):
            cur.prev()
        else:
            cur.last()
        return first if cur.key()[n:n + 8] == first else None

    def save(self, expire_ms=None, compact_limits=None):
        self.coll.save(expire_ms, compact_limits)


# The option limiting the entries of each type's compact encoding (Keyspace.big_encoding).
_COMPACT_ENTRIES = {"hash": "hash_max_listpack_entries", "set": "set_max_intset_entries",
                    "zset": "zset_max_listpack_entries"}


def cfg_limit(ks, name):
    """An encoding threshold from the server's configuration (OBJECT ENCODING emulation)."""
    return getattr(ks.storage.cfg, name)


def _is_int_member(m):
    from kvstore.resp import strict_int
    return strict_int(m) is not None


def record_expire(rec):
    """Absolute expire time in ms, 0 when the key has none."""
    return HDR.unpack_from(rec)[1] if rec[0] & FLAG_EXPIRES else 0


class Batch:
    """What one group commit stages beside its LMDB writes. See Storage.commit_write."""

    __slots__ = ("storage", "counts", "log_parts", "stream_db", "next_keyid", "dbmap",
                 "next_pdb", "reclaim", "reclaim_keyids", "units", "log_effects", "staging",
                 "repl_reset", "repl_ids", "map_tight")

    def __init__(self, storage):
        self.storage = storage
        self.counts = {}                 # pdb -> [keys, expires] (touched ones only)
        self.log_parts = []
        self.stream_db = storage.log_stream_db
        self.next_keyid = storage.next_keyid
        self.dbmap = None                # a new list when FLUSHDB/SWAPDB changed the mapping
        self.next_pdb = storage.next_pdb
        self.reclaim = None
        self.reclaim_keyids = None       # a new list when big collections were dropped
        self.units = 0                   # effects logged (data changes, for INFO)
        # A replica's log holds only the bytes its primary sent: its own effects are dropped.
        self.log_effects = storage.log_effects
        self.staging = None              # a new list when a full sync's staging dbs change
        self.repl_reset = None           # (offset, stream db): a full sync restarts the log
        self.repl_ids = None             # (replid, replid2, second offset) to persist
        # The map had little room beyond its last page when the batch began: each write
        # proves that the batch's log record will still fit (Writer._run_write).
        self.map_tight = False

    def counts_of(self, pdb):
        c = self.counts.get(pdb)
        if c is None:
            c = self.counts[pdb] = list(self.storage.counts_of(pdb))
        return c

    def current_dbmap(self):
        return self.dbmap if self.dbmap is not None else self.storage.dbmap

    def log_bytes(self):
        return sum(map(len, self.log_parts))

    def log_command(self, db, args):
        """Log one command's single effect, `args` in db `db` (append_effects of one)."""
        self.units += 1
        if db != self.stream_db:
            self.log_parts.append(_select(db))
            self.stream_db = db
        self.log_parts.append(encode_command(args))

    def append_effects(self, effects):
        """Serialize the effects of one execution unit into the log (SELECT when the db
        changes; MULTI/EXEC around more than one effect), as a Redis 7.0 primary propagates."""
        if len(effects) == 1:
            self.log_command(*effects[0])
            return
        self.units += len(effects)
        parts = self.log_parts
        first_db = effects[0][0]
        if first_db != self.stream_db:
            parts.append(_select(first_db))
            self.stream_db = first_db
        parts.append(_MULTI)
        for db, args in effects:
            if db != self.stream_db:
                parts.append(_select(db))
                self.stream_db = db
            parts.append(encode_command(args))
        parts.append(_EXEC)


def _select(db):
    return encode_command([b"SELECT", b"%d" % db])


class Keyspace:
    """Operations on one transaction for one client command at a time.

    Reset per command with `begin_command(db)`. Handlers read through `lookup`/`get_string`
    and write through `set_string`/`delete`/`set_expire`...; a write records its deltas and
    effects here and they are merged into the Batch by `end_command` only if the command's
    nested transaction committed.  `writable` is False for read transactions.
    """

    __slots__ = ("storage", "txn", "batch", "now", "db", "pdb", "prefix", "effects", "deltas",
                 "writable", "meta_db", "expires_db", "hide_expired", "delete_expired",
                 "touched", "unwrapped", "ready", "events", "hits", "misses")

    def __init__(self, storage, txn, batch=None):
        self.storage = storage
        self.txn = txn
        self.batch = batch
        self.writable = batch is not None
        self.now = now_ms()
        self.meta_db = storage.meta_db
        self.expires_db = storage.expires_db
        self.hide_expired = True
        # A replica never expires keys itself: it waits for its primary's DEL.
        self.delete_expired = self.writable and storage.log_effects
        self.effects = []
        self.deltas = []
        self.touched = []
        self.unwrapped = False      # effects go to the log one by one (active expiry)
        self.ready = []             # (db, list key) a command pushed to (blocked clients)
        self.events = []            # keyspace notifications of the running command
        # INFO keyspace_hits/misses: counted for lookups on read transactions only (what
        # Redis counts for read commands); None = not counting.
        self.hits = None if self.writable else 0
        self.misses = 0
        self.db = 0
        self.pdb = 0
        self.prefix = b""

    # ---- per-command lifecycle ---------------------------------------------------------------
    def select(self, db):
        self.db = db
        b = self.batch
        if b is None or b.dbmap is None:
            st = self.storage
            self.pdb = st.dbmap[db]
            self.prefix = st.prefixes[db]
        else:
            self.pdb = b.dbmap[db]
            self.prefix = _pdb_prefix(self.pdb)

    def begin_command(self, db):
        self.select(db)
        self.unwrapped = False
        if self.effects:
            self.effects = []
        if self.deltas:
            self.deltas = []
        if self.touched:
            self.touched = []
        if self.ready:
            self.ready = []
        if self.events:
            self.events = []

    def end_command(self, unit=None):
        """The command's nested transaction committed: merge its staged changes. With `unit`
        (a list), the effects are collected there instead of logged: a transaction logs all
        its commands' effects as one unit."""
        batch = self.batch
        for pdb, dk, de in self.deltas:
            c = batch.counts_of(pdb)
            c[0] += dk
            c[1] += de
        if self.touched:
            hook = self.storage.on_touch
            if hook is not None:
                hook(self.touched)
        if self.events:
            self.storage.on_events(self.events)
        if self.effects and batch.log_effects:
            if unit is not None:
                unit.extend(self.effects)
            elif self.unwrapped:
                for e in self.effects:
                    batch.append_effects([e])
            else:
                batch.append_effects(self.effects)

    def notify(self, cls, event, key, db=None):
        """Queue a keyspace notification (class letter as in notify-keyspace-events); sent
        only if the command succeeds. Free when notifications are off."""
        if cls in self.storage.notify_classes:
            self.events.append((event, key, self.db if db is None else db))

    def signal_ready(self, key):
        """`key` (a list, in the current db) may now serve clients blocked on it."""
        self.ready.append((self.db, key))

    def propagate(self, args, db=None):
        self.effects.append((self.db if db is None else db, args))

    def prefix_of(self, db):
        dbmap = self.batch.current_dbmap() if self.batch is not None else self.storage.dbmap
        return _pdb_prefix(dbmap[db])

    # ---- lookups -----------------------------------------------------------------------------
    def lookup(self, key, prefix=None):
        """The live record of `key` (bytes) or None. Expired keys are None for normal readers
        and are deleted (with a propagated DEL) in a write context."""
        if prefix is None:
            prefix = self.prefix
        rec = self.txn.get(prefix + encode_key(key), None, self.meta_db)
        if rec is None or not rec[0] & FLAG_EXPIRES:
            if self.hits is not None:
                if rec is None:
                    self.misses += 1
                else:
                    self.hits += 1
            return rec
        exp = HDR.unpack_from(rec)[1]
        if exp <= self.now and self.hide_expired:
            if self.delete_expired:
                self._remove(prefix, key, rec)
                db = self._db_of_prefix(prefix)
                self.propagate([b"DEL", key], db=db)
                self.notify("x", b"expired", key, db)
                self.storage.lazy_expirations += 1
            elif not self.writable and self.storage.log_effects:
                # A primary's read found it: delete it (and send replicas the DEL) soon, in
                # a write batch, as Redis's expireIfNeeded does at once.
                soon = self.storage.expire_soon
                if len(soon) < EXPIRE_SOON_MAX:
                    soon.append((self._db_of_prefix(prefix), key))
            if self.hits is not None:
                self.misses += 1
            return None
        if self.hits is not None:
            self.hits += 1
        return rec

    def lookup_raw(self, key, prefix=None):
        """The record even if logically expired (DEBUG DIGEST, replica apply)."""
        return self.txn.get((prefix or self.prefix) + encode_key(key), db=self.meta_db)

    def _db_of_prefix(self, prefix):
        if prefix == self.prefix:
            return self.db
        pdb = _U32BE_unpack(prefix)
        dbmap = self.batch.current_dbmap() if self.batch else self.storage.dbmap
        return dbmap.index(pdb) if pdb in dbmap else self.db   # (a full sync's staging db)

    def get_string(self, key):
        """Value of a string key, None if missing; WRONGTYPE for other types."""
        if len(key) <= LONG_KEY_LIMIT and self.hits is not None:
            # Read transaction, short key: the common cases inline (lookup's semantics).
            rec = self.txn.get(self.prefix + key, None, self.meta_db)
            if rec is None:
                self.misses += 1
                return None
            if rec[0] & (TYPE_MASK | FLAG_EXPIRES) == TYPE_STRING:
                self.hits += 1
                return rec[HDR_SIZE:]
        rec = self.lookup(key)
        if rec is None:
            return None
        if rec[0] & TYPE_MASK != TYPE_STRING:
            raise _WRONG_TYPE
        return rec[record_body_offset(rec):]

    # ---- writes ------------------------------------------------------------------------------
    def _put(self, prefix, key, rec):
        self.txn.put(prefix + encode_key(key), rec, db=self.meta_db)

    def _remove(self, prefix, key, rec, keep_elements=False):
        """Delete the record (and its index entries and, unless the value moves to another
        key, its elements) of `key`."""
        ek = encode_key(key)
        self.txn.delete(prefix + ek, db=self.meta_db)
        if rec[0] & TYPE_MASK != TYPE_STRING and not keep_elements:
            self.free_elements(rec)
        exp = HDR.unpack_from(rec)[1]
        pdb = _U32BE_unpack(prefix)
        if exp:
            self.txn.delete(prefix + _U64BE.pack(exp) + ek, db=self.expires_db)
            self.deltas.append((pdb, -1, -1))
        else:
            self.deltas.append((pdb, -1, 0))
        self.touched.append((pdb, key))

    def signal_modified(self, key):
        """Invalidate WATCHes of `key` in the selected db without writing it (Redis's
        signalModifiedKey after a command that changed nothing, such as LTRIM 0 -1)."""
        self.touched.append((_U32BE_unpack(self.prefix), key))

    def set_record(self, key, rec, old=None, prefix=None, old_known=False):
        """Store `rec` for `key`, replacing `old` (the current raw record, looked up here
        unless `old_known`), keeping the expiry index and counters right."""
        if prefix is None:
            prefix = self.prefix
        ek = encode_key(key)
        tk = prefix + ek
        txn = self.txn
        if not old_known:
            old = txn.get(tk, db=self.meta_db)
        new_exp = HDR.unpack_from(rec)[1]
        pdb = _U32BE_unpack(prefix)
        if old is None:
            dk, de = 1, (1 if new_exp else 0)
            if "n" in self.storage.notify_classes:
                self.notify("n", b"new", key, self._db_of_prefix(prefix))
        else:
            if old[0] & TYPE_MASK != TYPE_STRING and (
                    rec[0] & TYPE_MASK == TYPE_STRING
                    or collection_keyid(old) != collection_keyid(rec)):
                self.free_elements(old)         # the old value is replaced, not updated
            old_exp = HDR.unpack_from(old)[1]
            dk = 0
            de = (1 if new_exp else 0) - (1 if old_exp else 0)
            if old_exp and old_exp != new_exp:
                txn.delete(prefix + _U64BE.pack(old_exp) + ek, db=self.expires_db)
            if old_exp == new_exp:
                new_exp = 0           # index entry already right
        txn.put(tk, rec, db=self.meta_db)
        if new_exp:
            txn.put(prefix + _U64BE.pack(new_exp) + ek, b"", db=self.expires_db)
        if dk or de:
            self.deltas.append((pdb, dk, de))
        self.touched.append((pdb, key))

    def set_string(self, key, value, expire_ms=0, keep_ttl=False, old=None, old_known=False):
        if not old_known:
            old = self.lookup(key)
            old_known = True
        if keep_ttl and old is not None:
            expire_ms = HDR.unpack_from(old)[1]
        self.set_record(key, make_record(TYPE_STRING, expire_ms, key, value), old,
                        old_known=old_known)

    def delete(self, key, prefix=None, keep_elements=False):
        """Delete `key` if it exists (live); return True if it did. `keep_elements`: the
        value is being moved to another key (RENAME, MOVE)."""
        if prefix is None:
            prefix = self.prefix
        rec = self.lookup(key, prefix)
        if rec is None:
            return False
        self._remove(prefix, key, rec, keep_elements)
        return True

    def set_expire(self, key, rec, expire_ms):
        """Change the expiry of existing `key` (record `rec`) to expire_ms (0 = persist)."""
        exp, mtime = HDR.unpack_from(rec)[1:3]
        if exp == expire_ms:
            return
        body = bytes(rec[HDR_SIZE:])
        flags = (rec[0] | FLAG_EXPIRES) if expire_ms else (rec[0] & ~FLAG_EXPIRES)
        new = HDR.pack(flags, expire_ms, mtime) + body
        self.set_record(key, new, rec, old_known=True)

    # ---- ids and db mapping ------------------------------------------------------------------
    def new_keyid(self):
        b = self.batch
        kid = b.next_keyid
        b.next_keyid = kid + 1
        return kid

    def dbsize(self, db=None):
        pdb = self.pdb if db is None else self._dbmap()[db]
        if self.batch is not None:
            return self.batch.counts_of(pdb)[0]
        return self.storage.counts_of(pdb)[0]

    def expires_count(self, pdb):
        if self.batch is not None:
            return self.batch.counts_of(pdb)[1]
        return self.storage.counts_of(pdb)[1]

    def _dbmap(self):
        return self.batch.current_dbmap() if self.batch is not None else self.storage.dbmap

    def flush_db(self, db):
        """Point logical `db` at a fresh, empty physical db; the old one is reclaimed later."""
        b = self.batch
        dbmap = list(b.current_dbmap())
        old = dbmap[db]
        if b.counts_of(old)[0] == 0:
            return
        dbmap[db] = b.next_pdb
        b.next_pdb += 1
        self.touched.append((old, None))
        b.dbmap = dbmap
        reclaim = list(b.reclaim if b.reclaim is not None else self.storage.reclaim)
        reclaim.append(old)
        b.reclaim = reclaim
        if db == self.db:
            self.select(db)

    def swap_db(self, a, b_):
        b = self.batch
        dbmap = list(b.current_dbmap())
        self.touched.append((dbmap[a], None))
        self.touched.append((dbmap[b_], None))
        dbmap[a], dbmap[b_] = dbmap[b_], dbmap[a]
        b.dbmap = dbmap
        self.select(self.db)

    # ---- iteration ---------------------------------------------------------------------------
    def iter_keys(self, prefix=None, start_after=None, seek=None, include_expired=False):
        """Yield (table key, record) of a db in table order: from the start of the db, from
        the first table key >= `seek`, or after table key `start_after`."""
        if prefix is None:
            prefix = self.prefix
        cur = self.txn.cursor(db=self.meta_db)
        if start_after is not None:
            if not cur.set_range(start_after):
                return
            if cur.key() == start_after and not cur.next():
                return
        elif not cur.set_range(seek if seek is not None else prefix):
            return
        now = self.now
        plen = len(prefix)
        hide = self.hide_expired and not include_expired
        for tk, rec in cur:
            if tk[:plen] != prefix:
                return
            if hide:
                exp = HDR.unpack_from(rec)[1]
                if exp and exp <= now:
                    continue
            yield tk, rec

    # ---- whole values (DUMP/RESTORE/COPY/DEBUG DIGEST) -----------------------------------------
    def read_value(self, rec):
        """(type name, value in replication.rdb's value model) of a record."""
        t = rec[0] & TYPE_MASK
        if t == TYPE_STRING:
            return "string", bytes(rec[record_body_offset(rec):])
        if t == TYPE_HASH:
            return "hash", list(Collection(self, b"", rec, self.prefix).items())
        if t == TYPE_SET:
            return "set", [m for m, _ in self.elements(collection_keyid(rec))]
        if t == TYPE_LIST:
            return "list", [bytes(v) for _, v in self.raw_elements(collection_keyid(rec))]
        if t == TYPE_ZSET:
            return "zset", list(ZSetValue(Collection(self, b"", rec, self.prefix)).iterate())
        raise CommandError(errors.TYPE_NOT_SUPPORTED.format(TYPE_NAMES[t]))

    def write_value(self, key, type_name, value, expire_ms=0, prefix=None):
        """Create `key` (which must not exist) holding a whole value."""
        if type_name == "string":
            self.set_record(key, make_record(TYPE_STRING, expire_ms, key, value), None,
                            prefix=prefix, old_known=True)
            return
        if type_name == "hash":
            coll = Collection.create(self, key, TYPE_HASH, prefix)
            for field, v in value:
                coll.put(field, v)
            coll.big = self.big_encoding(type_name, value)
            coll.save(expire_ms)
            return
        if type_name == "list":
            lst = ListValue.create(self, key, prefix)
            for v in value:
                lst.push(v, left=False)
            lst.save(expire_ms)
            return
        if type_name == "zset":
            z = ZSetValue.create(self, key, prefix)
            z.coll.big = self.big_encoding(type_name, value)   # (first: big keeps -0)
            for member, score in value:
                z.set(member, score, z.score(member))
            z.save(expire_ms)
            return
        if type_name == "set":
            coll = Collection.create(self, key, TYPE_SET, prefix)
            for m in value:
                coll.put(m, b"")
            coll.big = self.big_encoding(type_name, value)
            coll.save(expire_ms)
            return
        raise CommandError(errors.TYPE_NOT_SUPPORTED.format(type_name))

    def mark_big(self, key):
        """Flag `key`'s collection as in the big encoding, nothing else: no data change, no
        WATCH touched, nothing logged (Redis 7.0's SORT converts a compact sorted set)."""
        tk = self.prefix + encode_key(key)
        rec = self.txn.get(tk, db=self.meta_db)
        if rec is not None and not rec[0] & FLAG_RAW:
            self.txn.put(tk, bytes((rec[0] | FLAG_RAW,)) + bytes(rec[1:]), db=self.meta_db)

    def big_encoding(self, type_name, value):
        """Whether Redis 7.0 loads a hash, set or zset (read_value's form) from an RDB into
        its big encoding under the current thresholds (hashtable, skiplist) rather than the
        compact one (listpack, intset). Lists are always quicklists: False."""
        entries = _COMPACT_ENTRIES.get(type_name)
        if entries is None:
            return False
        if len(value) > cfg_limit(self, entries):
            return True
        if type_name == "hash":
            most = cfg_limit(self, "hash_max_listpack_value")
            return any(len(f) > most or len(v) > most for f, v in value)
        if type_name == "zset":
            most = cfg_limit(self, "zset_max_listpack_value")
            return any(len(m) > most for m, _ in value)
        return any(not _is_int_member(m) for m in value)

    def reencode(self, prefix):
        """DEBUG RELOAD's encodings for the db at `prefix`: each hash, set and sorted set
        takes the one Redis's RDB load would give it now (compact again once it fits after
        removals, big when a CONFIG SET lowered a threshold); a sorted set turning compact
        stores its -0 scores as 0, as a listpack does. Returns how many keys changed."""
        changes = []
        for tk, rec in self.iter_keys(prefix=prefix, include_expired=True):
            entries = _COMPACT_ENTRIES.get(TYPE_NAMES[rec[0] & TYPE_MASK])
            if entries is None:
                continue
            size = _COLL.unpack_from(rec, record_body_offset(rec))[1]
            # (a value past the entries limit is big without reading it)
            big = size > cfg_limit(self, entries) or self.big_encoding(*self.read_value(rec))
            if big != bool(rec[0] & FLAG_RAW):
                changes.append((record_key(tk, rec), bytes(rec), big))
        for key, rec, big in changes:
            coll = Collection(self, key, rec, prefix)
            if not big and coll.type_code == TYPE_ZSET:
                ZSetValue(coll).store_zeros_unsigned()
            coll.big = big
            coll.save()
        return len(changes)

    def copy_value(self, rec, new_key, prefix=None):
        """A record for `new_key` holding a copy of `rec`'s value (and expiry); a collection's
        elements are copied under a new key id."""
        if rec[0] & TYPE_MASK == TYPE_STRING:
            return rekey(rec, new_key)
        kid = self.new_keyid()
        put = self.txn.put
        elems = self.storage.elems_db
        head = _U64BE.pack(kid)
        for sub, v in self.raw_elements(collection_keyid(rec)):
            put(head + sub, v, db=elems)
        flags, exp, mtime = HDR.unpack_from(rec)
        body = bytearray(rec[record_body_offset(rec):])
        _COLL.pack_into(body, 0, kid, _COLL.unpack_from(body)[1])
        return make_record(flags & ~FLAG_LONG_KEY & 0xFF, exp, new_key, bytes(body), mtime)

    # ---- collection elements -----------------------------------------------------------------
    def raw_elements(self, keyid):
        """(sub key, raw element value) of a collection, in table order."""
        head = _U64BE.pack(keyid)
        cur = self.txn.cursor(db=self.storage.elems_db)
        if not cur.set_range(head):
            return
        for k, v in cur:
            if k[:8] != head:
                return
            yield k[8:], v

    def elements(self, keyid):
        """(element name, value) pairs of a set or a hash (full names, long ones included),
        in slot order."""
        for sub, v in self.raw_elements(keyid):
            yield decode_element(sub[SLOT_SIZE:], v)

    def free_elements(self, rec, defer=False):
        """Drop a collection's elements: at once when small, else (or with `defer`) in
        background slices (the key id goes on the reclaim list, as Redis's lazyfree does)."""
        kid, size = _COLL.unpack_from(rec, record_body_offset(rec))
        if size <= FREE_INLINE_MAX and not defer:
            head = _U64BE.pack(kid)
            cur = self.txn.cursor(db=self.storage.elems_db)
            if cur.set_range(head):
                while cur.key()[:8] == head:
                    if not cur.delete():
                        break
            return
        b = self.batch
        pending = list(b.reclaim_keyids if b.reclaim_keyids is not None
                       else self.storage.reclaim_keyids)
        pending.append(kid)
        b.reclaim_keyids = pending

    def expired_keys(self, prefix, limit):
        """Up to `limit` (key, record) pairs of `prefix`'s db whose expiry is due."""
        cur = self.txn.cursor(db=self.expires_db)
        out = []
        if not cur.set_range(prefix):
            return out
        now = self.now
        for ik in cur.iternext(values=False):
            if ik[:4] != prefix:
                break
            exp = _U64BE.unpack_from(ik, 4)[0]
            if exp > now:
                break
            ek = ik[12:]
            rec = self.txn.get(prefix + ek, db=self.meta_db)
            if rec is not None:
                out.append((record_key(prefix + ek, rec), rec))
            if len(out) >= limit:
                break
        return out

    def remove_expired(self, key, rec):
        self._remove(self.prefix, key, rec)
        self.notify("x", b"expired", key)


def _pdb_prefix(pdb):
    return struct.pack(">I", pdb)


def _U32BE_unpack(prefix):
    return struct.unpack(">I", prefix)[0]
