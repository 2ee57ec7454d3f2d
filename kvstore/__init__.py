"""kvstore: a Redis-compatible, disk-backed key-value server on LMDB."""

__version__ = "0.1.0"
# The Redis version whose behaviour kvstore implements; clients check it in INFO.
REDIS_VERSION = "7.0.15"
