"""DEBUG DIGEST / DEBUG DIGEST-VALUE: kvstore.digest against a real redis-server 7.0."""

import math
import random

import redis

from kvstore.digest import DatasetDigest, key_digest, value_digest
from replication.rdb import StreamValue, load_dump_payload
from tests.test_rdb import catalog, create, make_streams


def read_for_digest(c, key):
    """(type, value) read back with plain commands, in the shapes kvstore uses."""
    t = c.type(key).decode()
    if t == 'string':
        return t, c.get(key)
    if t == 'list':
        return t, c.lrange(key, 0, -1)
    if t == 'set':
        return t, iter(c.smembers(key))                  # any iterable will do
    if t == 'hash':
        return t, c.hgetall(key).items()
    if t == 'zset':
        return t, c.zrange(key, 0, -1, withscores=True)
    if t == 'stream':
        return t, [(tuple(int(x) for x in i.split(b'-')), list(f.items()))
                   for i, f in c.xrange(key)]
    raise AssertionError(t)


def dataset_digest(port, dbs=16):
    d = DatasetDigest()
    for db in range(dbs):
        c = redis.Redis(host='127.0.0.1', port=port, db=db, protocol=2)
        keys = list(c.scan_iter(count=1000))
        if keys:
            d.add_db(db)
            for k in keys:
                t, v = read_for_digest(c, k)
                d.add_key(k, t, v, c.pttl(k) >= 0)
        c.close()
    return d.hexdigest()


def debug_digest(c):
    return c.execute_command('DEBUG', 'DIGEST').decode()


def digest_value(c, *keys):
    return [x.decode() for x in c.execute_command('DEBUG', 'DIGEST-VALUE', *keys)]


def test_empty_dataset(r, server):
    assert debug_digest(r) == '0' * 40
    assert dataset_digest(server.port) == '0' * 40
    assert DatasetDigest().hexdigest() == '0' * 40
    assert digest_value(r, b'missing') == ['0' * 40]


def test_digest_value_every_type(r):
    cat = catalog()
    for k, (t, v) in cat.items():
        create(r, k, t, v)
    stream_keys = make_streams(r)
    extra_z = [(b'a', 0.1), (b'b', -0.0), (b'c', 1e-300), (b'd', 123456789.123456789),
               (b'e', 2.0 ** 60), (b'f', -math.inf), (b'g', 1 / 3)]
    create(r, b'z:extra', 'zset', extra_z)
    keys = list(cat) + stream_keys + [b'z:extra']
    for i, k in enumerate(keys):
        if i % 3 == 0:
            r.expire(k, 100000)
    for k in keys:
        t, v = read_for_digest(r, k)
        has_expire = r.pttl(k) >= 0
        assert value_digest(t, v, has_expire).hex() == digest_value(r, k)[0], k
    # values straight from our RDB decoder (any order for sets/hashes/zsets, StreamValue)
    for k in keys:
        t, v = load_dump_payload(r.dump(k))
        if t in ('set', 'hash', 'zset'):
            random.Random(5).shuffle(v)
        if t == 'stream':
            assert isinstance(v, StreamValue)
        assert value_digest(t, v, r.pttl(k) >= 0).hex() == digest_value(r, k)[0], k


def test_list_order_matters_set_order_does_not():
    a = value_digest('list', [b'a', b'b'])
    assert a != value_digest('list', [b'b', b'a'])
    assert value_digest('set', [b'a', b'b']) == value_digest('set', [b'b', b'a'])
    assert value_digest('hash', [(b'a', b'1'), (b'b', b'2')]) == \
        value_digest('hash', [(b'b', b'2'), (b'a', b'1')])
    assert value_digest('string', b'x') != value_digest('list', [b'x'])
    assert len(key_digest(b'k', 'string', b'v', False)) == 20


def test_dataset_digest_several_dbs(r, server):
    cat = catalog()
    items = list(cat.items())
    for db in (0, 3, 15):
        c = redis.Redis(host='127.0.0.1', port=server.port, db=db, protocol=2)
        for i, (k, (t, v)) in enumerate(items):
            if (i + db) % 2:
                create(c, k, t, v)
                if i % 5 == 0:
                    c.pexpire(k, 1000000)
        if db == 3:
            make_streams(c)
        c.close()
    assert dataset_digest(server.port) == debug_digest(r)
    # the same data in another db gives another digest
    r.move(b'l:small', 1) if r.exists(b'l:small') else r.move(b's:empty', 1)
    assert dataset_digest(server.port) == debug_digest(r)


def test_dataset_digest_expire_marker_not_time(r, server):
    r.set(b'a', b'1')
    r.set(b'b', b'2', px=500000)
    d1 = debug_digest(r)
    assert dataset_digest(server.port) == d1
    r.pexpire(b'b', 900000)
    assert debug_digest(r) == d1          # only the presence of an expire counts
    r.persist(b'b')
    assert debug_digest(r) != d1
    assert dataset_digest(server.port) == debug_digest(r)


def test_key_digest_composes_dataset_digest(r):
    r.set(b'k1', b'v1')
    r.rpush(b'k2', b'x', b'y')
    r.expire(b'k2', 1000)
    d = DatasetDigest()
    d.add_db(0)
    d.add_key(b'k1', 'string', b'v1', False)
    d.add_key(b'k2', 'list', [b'x', b'y'], True)
    assert d.hexdigest() == debug_digest(r)
    x = bytes(a ^ b for a, b in zip(key_digest(b'k1', 'string', b'v1', False),
                                    key_digest(b'k2', 'list', [b'x', b'y'], True)))
    assert len(x) == 20
