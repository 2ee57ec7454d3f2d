"""INFO text: Redis 7.0's sections and field names with values true for a disk store.

Memory fields: `used_memory` is the live data size in the LMDB file (the quantity `maxmemory`
limits in kvstore), `used_memory_rss` the process's resident memory; kvstore's own fields
(`kvstore_*`) carry the file size and the anonymous (heap) memory.
"""

import os
import platform
import resource
import time

from kvstore import REDIS_VERSION, __version__

ALL_SECTIONS = ("server", "clients", "memory", "persistence", "stats", "replication", "cpu",
                "modules", "commandstats", "errorstats", "cluster", "keyspace")
DEFAULT_SECTIONS = ("server", "clients", "memory", "persistence", "stats", "replication", "cpu",
                    "modules", "errorstats", "cluster", "keyspace")


def human_bytes(n):
    for unit, scale in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if n >= scale:
            return "%.2f%s" % (n / scale, unit)
    return "%dB" % n


def proc_status():
    """VmRSS / RssAnon etc. from /proc/self/status, in bytes."""
    out = {}
    try:
        with open("/proc/self/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                parts = v.split()
                if len(parts) == 2 and parts[1] == "kB":
                    out[k] = int(parts[0]) * 1024
    except OSError:
        pass
    return out


def _server(srv):
    now = time.time()
    up = int(now - srv.start_time)
    u = platform.uname()
    return [
        ("redis_version", REDIS_VERSION), ("redis_git_sha1", "00000000"),
        ("redis_git_dirty", 0), ("redis_build_id", "0"), ("redis_mode", "standalone"),
        ("os", "%s %s %s" % (u.system, u.release, u.machine)), ("arch_bits", 64),
        ("monotonic_clock", "POSIX clock_gettime"), ("multiplexing_api", "epoll"),
        ("atomicvar_api", "c11-builtin"), ("gcc_version", "0.0.0"),
        ("process_id", os.getpid()), ("process_supervised", srv.supervised_mode()),
        ("run_id", srv.run_id), ("tcp_port", srv.cfg.port),
        ("server_time_usec", int(now * 1000000)), ("uptime_in_seconds", up),
        ("uptime_in_days", up // 86400), ("hz", srv.cfg.hz), ("configured_hz", srv.cfg.hz),
        ("lru_clock", int(now) & 0xFFFFFF), ("executable", srv.executable),
        ("config_file", srv.cfg.config_file or ""), ("io_threads_active", 0),
        ("kvstore_version", __version__),
    ]


def _clients(srv):
    return [
        ("connected_clients", len(srv.clients)), ("cluster_connections", 0),
        ("maxclients", srv.cfg.maxclients), ("client_recent_max_input_buffer", 0),
        ("client_recent_max_output_buffer", 0),
        ("blocked_clients", srv.writer.blocking.count()), ("tracking_clients", 0),
        ("clients_in_timeout_table", 0),
    ]


def _memory(srv):
    st = srv.storage
    data = st.data_size()
    ps = proc_status()
    rss = ps.get("VmRSS", 0)
    maxmem = srv.cfg.maxmemory
    return [
        ("used_memory", data), ("used_memory_human", human_bytes(data)),
        ("used_memory_rss", rss), ("used_memory_rss_human", human_bytes(rss)),
        ("used_memory_peak", max(srv.peak_data, data)),
        ("used_memory_peak_human", human_bytes(max(srv.peak_data, data))),
        ("total_system_memory", os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")),
        ("maxmemory", maxmem), ("maxmemory_human", human_bytes(maxmem)),
        ("maxmemory_policy", srv.cfg.maxmemory_policy),
        ("mem_fragmentation_ratio", "%.2f" % (rss / data if data else 0)),
        ("mem_replication_backlog", 0), ("mem_allocator", "libc"),
        ("lazyfree_pending_objects", len(st.reclaim) + len(st.reclaim_keyids)), ("lazyfreed_objects", srv.stat_lazyfreed),
        ("kvstore_data_bytes", data), ("kvstore_file_bytes", st.file_size()),
        ("kvstore_map_bytes", srv.cfg.storage_map_size),
        ("kvstore_rss_anon_bytes", ps.get("RssAnon", 0)),
        ("kvstore_lmdb_readers", st.env.info()["num_readers"]),
    ]


def _persistence(srv):
    st = srv.storage
    return [
        ("loading", 0), ("async_loading", 0), ("current_cow_peak", 0), ("current_cow_size", 0),
        ("current_cow_size_age", 0), ("current_fork_perc", "0.00"),
        ("current_save_keys_processed", 0), ("current_save_keys_total", 0),
        ("rdb_changes_since_last_save", srv.dirty),
        ("rdb_bgsave_in_progress", int(srv.save_in_progress)),
        ("rdb_last_save_time", st.lastsave),
        ("rdb_last_bgsave_status", "ok" if srv.last_save_ok else "err"),
        ("rdb_last_bgsave_time_sec", srv.last_save_seconds),
        ("rdb_current_bgsave_time_sec", -1), ("rdb_saves", srv.saves),
        ("rdb_last_cow_size", 0), ("rdb_last_load_keys_expired", 0),
        ("rdb_last_load_keys_loaded", 0),
        ("aof_enabled", 1 if srv.cfg.appendonly else 0), ("aof_rewrite_in_progress", 0),
        ("aof_rewrite_scheduled", 0), ("aof_last_rewrite_time_sec", -1),
        ("aof_current_rewrite_time_sec", -1), ("aof_last_bgrewrite_status", "ok"),
        ("aof_rewrites", 0), ("aof_rewrites_consecutive_failures", 0),
        ("aof_last_write_status", "err" if st.last_commit_error else "ok"),
        ("aof_last_cow_size", 0), ("module_fork_in_progress", 0),
        ("module_fork_last_cow_size", 0),
        ("kvstore_commits", st.commits), ("kvstore_appendfsync", srv.cfg.appendfsync),
        ("kvstore_durable_points", st.durable_points),
        ("kvstore_durable_txnid", st.durable_txnid),
        ("kvstore_durable_age_ms", int((time.monotonic() - st.durable_mono) * 1000)),
        ("kvstore_rolled_back_txns",
         st.rolled_back[0] - st.rolled_back[1] if st.rolled_back else 0),
    ]


def _stats(srv):
    w = srv.writer
    avg = (w.batched_commands / w.batches) if w.batches else 0
    return [
        ("total_connections_received", srv.stat_connections),
        ("total_commands_processed", srv.stat_commands),
        ("instantaneous_ops_per_sec", srv.ops_per_sec()),
        ("total_net_input_bytes", srv.stat_net_in),
        ("total_net_output_bytes", srv.stat_net_out),
        ("total_net_repl_input_bytes", srv.stat_net_repl_in),
        ("total_net_repl_output_bytes", srv.stat_net_repl_out),
    ] + [("instantaneous_%s_kbps" % name, "%.2f" % v) for name, v in zip(
        ("input", "output", "input_repl", "output_repl"), srv.net_kbps())] + [
        ("rejected_connections", srv.stat_rejected), ("sync_full", srv.primary.sync_full),
        ("sync_partial_ok", srv.primary.sync_partial_ok),
        ("sync_partial_err", srv.primary.sync_partial_err),
        ("expired_keys", srv.stat_expired_keys + srv.storage.lazy_expirations),
        ("expired_stale_perc", "0.00"), ("expired_time_cap_reached_count", 0),
        ("expire_cycle_cpu_milliseconds", int(srv.stat_expire_cycle_seconds * 1000)),
        ("evicted_keys", 0), ("evicted_clients", 0), ("total_eviction_exceeded_time", 0),
        ("current_eviction_exceeded_time", 0),
        ("keyspace_hits", srv.stat_keyspace_hits),
        ("keyspace_misses", srv.stat_keyspace_misses),
        ("pubsub_channels", len(srv.pubsub.channels)),
        ("pubsub_patterns", len(srv.pubsub.patterns)),
        ("pubsubshard_channels", len(srv.pubsub.shard)), ("latest_fork_usec", 0),
        ("total_forks", 0), ("migrate_cached_sockets", 0), ("slave_expires_tracked_keys", 0),
        ("active_defrag_hits", 0), ("active_defrag_misses", 0), ("active_defrag_key_hits", 0),
        ("active_defrag_key_misses", 0), ("total_active_defrag_time", 0),
        ("current_active_defrag_time", 0), ("tracking_total_keys", 0),
        ("tracking_total_items", 0), ("tracking_total_prefixes", 0),
        ("unexpected_error_replies", 0), ("total_error_replies", srv.stats.total_errors()),
        ("dump_payload_sanitizations", 0), ("total_reads_processed", srv.stat_reads),
        ("total_writes_processed", srv.stat_writes), ("io_threaded_reads_processed", 0),
        ("io_threaded_writes_processed", 0), ("reply_buffer_shrinks", 0),
        ("reply_buffer_expands", 0),
        ("kvstore_protocol_errors", srv.stat_protocol_errors),
        ("kvstore_write_batches", w.batches),
        ("kvstore_avg_batch_commands", "%.2f" % avg),
    ]


def _replication(srv):
    st = srv.storage
    first = st.log_first_offset()
    head = [("role", "master")]
    if srv.replica is not None:
        head = [("role", "slave")] + srv.replica.info_fields()
    return head + srv.primary.info_fields() + [
        ("master_failover_state", "no-failover"),
        ("master_replid", st.replid), ("master_replid2", st.replid2),
        ("master_repl_offset", st.repl_offset), ("second_repl_offset", st.second_offset),
        ("repl_backlog_active", 1), ("repl_backlog_size", srv.log_retention()),
        ("repl_backlog_first_byte_offset", first),
        ("repl_backlog_histlen", st.repl_offset + 1 - first),
        ("kvstore_node_id", srv.node_id),
    ]


def _cpu(srv):
    r = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return [
        ("used_cpu_sys", "%.6f" % r.ru_stime), ("used_cpu_user", "%.6f" % r.ru_utime),
        ("used_cpu_sys_children", "%.6f" % c.ru_stime),
        ("used_cpu_user_children", "%.6f" % c.ru_utime),
        ("used_cpu_sys_main_thread", "%.6f" % r.ru_stime),
        ("used_cpu_user_main_thread", "%.6f" % r.ru_utime),
    ]


def _keyspace(srv, ks):
    out = []
    for db in range(srv.cfg.databases):
        pdb = ks.storage.dbmap[db] if ks.batch is None else ks.batch.current_dbmap()[db]
        keys = ks.dbsize(db)
        if keys:
            out.append(("db%d" % db, "keys=%d,expires=%d,avg_ttl=0"
                        % (keys, ks.expires_count(pdb))))
    return out


_BUILDERS = {
    "server": _server, "clients": _clients, "memory": _memory, "persistence": _persistence,
    "stats": _stats, "replication": _replication, "cpu": _cpu,
    "modules": lambda srv: [], "commandstats": lambda srv: srv.stats.info_commandstats(),
    "errorstats": lambda srv: srv.stats.info_errorstats(), "cluster": lambda srv: [
        ("cluster_enabled", 0)],
}


def info_text(srv, sections, ks):
    """INFO [section ...]: `default`/no argument, `all`, `everything`, or names."""
    wanted = []
    if not sections or "default" in sections:
        wanted.extend(DEFAULT_SECTIONS)
    if "all" in sections or "everything" in sections:
        wanted.extend(ALL_SECTIONS)
    for s in sections:
        if s in ALL_SECTIONS:
            wanted.append(s)
    seen = set()
    parts = []
    for name in wanted:
        if name in seen:
            continue
        seen.add(name)
        if name == "keyspace":
            fields = _keyspace(srv, ks)
        else:
            fields = _BUILDERS[name](srv)
        title = "CPU" if name == "cpu" else name.capitalize()
        lines = ["# " + title] + ["%s:%s" % kv for kv in fields]
        parts.append("\r\n".join(lines) + "\r\n")
    return "\r\n".join(parts)
