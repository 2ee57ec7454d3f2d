"""Every client-visible error text, worded exactly as Redis 7.0.15 words it.

Contract: a text here starts with the prefix clients dispatch on (ERR, WRONGTYPE, NOAUTH, ...).
Handlers raise `CommandError(TEXT)` or `CommandError(TEXT_FMT.format(...))`; the connection turns
it into a `-TEXT\\r\\n` reply (RESP2 and RESP3 alike).  No other module spells an error text.
"""


class CommandError(Exception):
    """A command failed with a Redis-style error reply; `args[0]` is the full text."""

    __slots__ = ()

    @property
    def text(self) -> str:
        return self.args[0]


class ProtocolError(Exception):
    """The client sent bytes that are not valid RESP; reply `-ERR Protocol error: ...` and close."""


# --- generic ---------------------------------------------------------------------------------
SYNTAX = "ERR syntax error"
WRONG_TYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
NOT_INTEGER = "ERR value is not an integer or out of range"
NOT_FLOAT = "ERR value is not a valid float"
INCR_OVERFLOW = "ERR increment or decrement would overflow"
INCRBYFLOAT_NAN = "ERR increment would produce NaN or Infinity"
VALUE_NAN_OR_INF = "ERR value is NaN or Infinity"
NO_SUCH_KEY = "ERR no such key"
OUT_OF_RANGE_OFFSET = "ERR offset is out of range"
STRING_TOO_LONG = "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
INVALID_EXPIRE = "ERR invalid expire time in '{}' command"
DB_INDEX_OUT_OF_RANGE = "ERR DB index is out of range"
SOURCE_DEST_SAME = "ERR source and destination objects are the same"
WRONG_ARITY = "ERR wrong number of arguments for '{}' command"
UNKNOWN_COMMAND = "ERR unknown command '{}', with args beginning with: {}"
UNKNOWN_SUBCOMMAND = "ERR unknown subcommand '{}'. Try {} HELP."
UNKNOWN_SUBCOMMAND_OR_ARITY = (
    "ERR unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.")
BUSYKEY = "BUSYKEY Target key name already exists."
TIMEOUT_NEGATIVE = "ERR timeout is negative"
TIMEOUT_NOT_INTEGER = "ERR timeout is not an integer or out of range"
SLOWLOG_COUNT = "ERR count should be greater than or equal to -1"
PAUSE_MODE = "ERR CLIENT PAUSE mode must be WRITE or ALL"
UNBLOCK_REASON = "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"
UNBLOCKED = "UNBLOCKED client unblocked via CLIENT UNBLOCK"
TIMEOUT_NOT_FLOAT = "ERR timeout is not a float or out of range"
COUNT_NEGATIVE = "ERR COUNT must be > 0"
DECR_OVERFLOW = "ERR decrement would overflow"
VALUE_OUT_OF_RANGE_POSITIVE = "ERR value is out of range, must be positive"
NUMKEYS_POSITIVE = "ERR numkeys should be greater than 0"
NUMKEYS_TOO_MANY = "ERR Number of keys can't be greater than number of args"
LIMIT_NEGATIVE = "ERR LIMIT can't be negative"
COUNT_POSITIVE = "ERR count should be greater than 0"
INDEX_OUT_OF_RANGE = "ERR index out of range"
LPOS_RANK_ZERO = ("ERR RANK can't be zero: use 1 to start from the first match, 2 from the "
                  "second ... or use negative to start from the end of the list")
LPOS_COUNT_NEGATIVE = "ERR COUNT can't be negative"
LPOS_MAXLEN_NEGATIVE = "ERR MAXLEN can't be negative"
ZSET_MIN_MAX_NOT_FLOAT = "ERR min or max is not a float"
ZSET_NOT_STRING_RANGE = "ERR min or max not valid string range item"
ZSET_LIMIT_NEEDS_BY = ("ERR syntax error, LIMIT is only supported in combination with either "
                       "BYSCORE or BYLEX")
ZSET_WITHSCORES_BYLEX = "ERR syntax error, WITHSCORES not supported in combination with BYLEX"
ZADD_XX_NX = "ERR XX and NX options at the same time are not compatible"
ZADD_GT_LT_NX = "ERR GT, LT, and/or NX options at the same time are not compatible"
ZADD_INCR_PAIR = "ERR INCR option supports a single increment-element pair"
ZADD_NAN = "ERR resulting score is not a number (NaN)"
ZSET_NEED_INPUT_KEY = "ERR at least 1 input key is needed for '{}' command"
ZSET_WEIGHT_NOT_FLOAT = "ERR weight value is not a float"
SORT_NOT_DOUBLE = "ERR One or more scores can't be converted into double"
HASH_NOT_INTEGER = "ERR hash value is not an integer"
HASH_NOT_FLOAT = "ERR hash value is not a float"
RANDFIELD_RANGE = ("ERR value is out of range, value must between -9223372036854775807 and "
                   "9223372036854775807")
EXPIRE_NX_XX_GT_LT = "ERR NX and XX, GT or LT options at the same time are not compatible"
EXPIRE_GT_LT = "ERR GT and LT options at the same time are not compatible"
UNSUPPORTED_OPTION = "ERR Unsupported option {}"
INVALID_CURSOR = "ERR invalid cursor"
LCS_LEN_AND_IDX = "ERR If you want both the length and indexes, please just use IDX."
LCS_NOT_STRINGS = "ERR The specified keys must contain string values"
LCS_TOO_BIG = "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"
OBJECT_FREQ_NOT_LFU = (
    "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note "
    "that when switching between policies at runtime LRU and LFU data will take some time to "
    "adjust.")
OBJECT_IDLETIME_LFU = (
    "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when "
    "switching between policies at runtime LRU and LFU data will take some time to adjust.")

# --- transactions ---------------------------------------------------------------------------
MULTI_NESTED = "ERR MULTI calls can not be nested"
EXEC_WITHOUT_MULTI = "ERR EXEC without MULTI"
DISCARD_WITHOUT_MULTI = "ERR DISCARD without MULTI"
WATCH_IN_MULTI = "ERR WATCH inside MULTI is not allowed"
EXECABORT = "EXECABORT Transaction discarded because of previous errors."
EXECABORT_BECAUSE = "EXECABORT Transaction discarded because of: {}"
NOT_ALLOWED_IN_MULTI = "ERR Command not allowed inside a transaction"

# --- auth and connection ---------------------------------------------------------------------
NOAUTH = "NOAUTH Authentication required."
WRONGPASS = "WRONGPASS invalid username-password pair or user is disabled."
AUTH_NO_PASSWORD = (
    "ERR AUTH <password> called without any password configured for the default user. "
    "Are you sure your configuration is correct?")
NOPROTO = "NOPROTO unsupported protocol version"
PROTOCOL_VERSION_NOT_INT = "ERR Protocol version is not an integer or out of range"
CLIENT_NAME_SPACES = "ERR Client names cannot contain spaces, newlines or special characters."
NO_SUCH_CLIENT = "ERR No such client"
CLIENT_KILL_SYNTAX = "ERR syntax error"
MAX_CLIENTS = "ERR max number of clients reached"
SUBSCRIBED_CONTEXT = ("ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / "
                      "QUIT / RESET are allowed in this context")
HELLO_SYNTAX = "ERR Syntax error in HELLO option '{}'"
HELLO_NOAUTH = (
    "NOAUTH HELLO must be called with the client already authenticated, otherwise the "
    "HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and "
    "select the RESP protocol version at the same time")
CLIENT_LIST_BAD_TYPE = "ERR Unknown client type '{}'"
CLIENT_KILL_BAD_TYPE = "ERR Unknown client type '{}'"
INVALID_CLIENT_ID = "ERR Invalid client ID"
CLIENT_KILL_ID_NOT_POSITIVE = "ERR client-id should be greater than 0"
DENIED_PROTECTED = (
    "DENIED Redis is running in protected mode because protected mode is enabled and no "
    "password is set for the default user. In this mode connections are only accepted from "
    "the loopback interface. If you want to connect from external computers to Redis you may "
    "adopt one of the following solutions: 1) Just disable protected mode sending the command "
    "'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from "
    "the same host the server is running, however MAKE SURE Redis is not publicly accessible "
    "from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) "
    "Alternatively you can just disable the protected mode by editing the Redis configuration "
    "file, and setting the protected mode option to 'no', and then restarting the server. 3) "
    "If you started the server manually just for testing, restart it with the "
    "'--protected-mode no' option. 4) Set up an authentication password for the default user. "
    "NOTE: You only need to do one of the above things in order for the server to start "
    "accepting connections from the outside.")

# --- storage and server state ----------------------------------------------------------------
OOM = "OOM command not allowed when used memory > 'maxmemory'."
DEBUG_DISABLED = (
    "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", "
    "you can run it from a local connection, otherwise you need to set this option in the "
    "configuration file, and then restart the server.")
BGSAVE_IN_PROGRESS = "ERR Background save already in progress"
SAVE_FAILED = "ERR"                      # Redis's shared.err, after logging why
SHUTDOWN_FAILED = "ERR Errors trying to SHUTDOWN. Check logs."
SHUTDOWN_NOT_IN_PROGRESS = "ERR No shutdown in progress."
SWAPDB_BAD_FIRST = "ERR invalid first DB index"
SWAPDB_BAD_SECOND = "ERR invalid second DB index"
COMMAND_GETKEYS_INVALID = "ERR Invalid command specified"
COMMAND_GETKEYS_ARITY = "ERR Invalid number of arguments specified for command"
COMMAND_GETKEYS_NOKEYS = "ERR The command has no key arguments"
MISCONF_DISK = (
    "MISCONF Errors writing to disk: the data store could not commit this write (it was not "
    "applied). Check the server log.")

# --- DUMP / RESTORE --------------------------------------------------------------------------
DUMP_BAD_PAYLOAD = "ERR DUMP payload version or checksum are wrong"
DUMP_BAD_FORMAT = "ERR Bad data format"
RESTORE_BAD_TTL = "ERR Invalid TTL value, must be >= 0"
RESTORE_BAD_IDLE = "ERR Invalid IDLETIME value, must be >= 0"
TYPE_NOT_SUPPORTED = "ERR values of type '{}' are not supported by this kvstore version"
RESTORE_BAD_FREQ = "ERR Invalid FREQ value, must be >= 0 and <= 255"

# --- protocol (sent as "-ERR Protocol error: <text>" before closing) -------------------------
PROTO_INVALID_MULTIBULK = "invalid multibulk length"
PROTO_INVALID_BULK = "invalid bulk length"
PROTO_UNAUTH_MULTIBULK = "unauthenticated multibulk length"
PROTO_UNAUTH_BULK = "unauthenticated bulk length"
PROTO_TOO_BIG_INLINE = "too big inline request"
PROTO_TOO_BIG_MBULK = "too big mbulk count string"
PROTO_TOO_BIG_BULK = "too big bulk count string"
PROTO_UNBALANCED_QUOTES = "unbalanced quotes in request"
PROTO_EXPECTED_DOLLAR = "expected '$', got '{}'"

# --- config ----------------------------------------------------------------------------------
# CONFIG SET / CONFIG REWRITE replies (kvstore/config.py raises ConfigError with these).
CONFIG_SET_UNKNOWN = "ERR Unknown option or number of arguments for CONFIG SET - '{}'"
CONFIG_SET_FAILED = "ERR CONFIG SET failed (possibly related to argument '{}') - {}"
CONFIG_SET_FAILED_BARE = "ERR CONFIG SET failed (possibly related to argument '{}')"
CONFIG_REWRITE_NO_FILE = "ERR The server is running without a config file"
CONFIG_REWRITE_FAILED = "ERR Rewriting config file: {}"
# Reasons: the tail of CONFIG_SET_FAILED, and of start-up config errors (Redis's texts).
CFG_IMMUTABLE = "can't set immutable config"
CFG_PROTECTED = "can't set protected config"
CFG_DUPLICATE = "duplicate parameter"
CFG_WRONG_ARGS = "wrong number of arguments"
CFG_YES_NO = "argument must be 'yes' or 'no'"
CFG_ENUM = "argument(s) must be one of the following: {}"
CFG_INTEGER = "argument couldn't be parsed into an integer"
CFG_MEMORY = "argument must be a memory value"
CFG_MEMORY_PERCENT = "argument must be a memory or percent value"
CFG_OCTAL = "argument couldn't be parsed as an octal number"
CFG_RANGE = "argument must be between {} and {} inclusive"
CFG_PERCENT_RANGE = "percentage argument must be less or equal to {}"
CFG_SAVE_INVALID = "Invalid save parameters"
CFG_COB_ARGS = "Wrong number of arguments in buffer limit configuration."
CFG_COB_CLASS = "Invalid client class specified in buffer limit configuration."
CFG_COB_VALUES = "Error in hard, soft or soft_seconds setting in buffer limit configuration."
CFG_OOM_VALUES = "Invalid oom-score-adj-values, elements must be between -2000 and 2000."
CFG_NKE_INVALID = "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."
CFG_MASTER_PORT = "Invalid master port"
CFG_BIND_TOO_MANY = "Too many bind addresses specified."
CFG_PERCENTILES_INVALID = "Invalid latency-tracking-info-percentiles parameters"
CFG_PERCENTILES_RANGE = (
    "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]")
# Start-up only (config file / command line).
CFG_UNBALANCED_QUOTES = "Unbalanced quotes in configuration line"
CFG_BAD_DIRECTIVE = "Bad directive or wrong number of arguments"
CFG_SENTINEL = "sentinel directive while not in sentinel mode"
CFG_CANT_OPEN = "{}: can't open config file: {}"
CFG_CANT_OPEN_INCLUDE = "can't open config file '{}': {}"
CFG_NO_STDIN = "command line: reading the configuration from stdin ('-') is not supported"
CFG_NO_MODULES = "modules are not supported by kvstore (loadmodule and module options are refused)"
# Reasons a change hook (Config.on_change) raises to refuse a CONFIG SET (Redis's apply texts).
CFG_APPLY_PORT = "Unable to listen on this port. Check server logs."
CFG_APPLY_BIND = "Failed to bind to specified addresses."
CFG_APPLY_TLS = "Unable to update TLS configuration. Check server logs."
CFG_APPLY_APPENDONLY = "Unable to turn on AOF. Check server logs."
CFG_APPLY_MAXCLIENTS = (
    "The operating system is not able to handle the specified number of clients, try with {}")

# --- replication ----------------------------------------------------------------------------
SYNC_PENDING_OUTPUT = "ERR SYNC and PSYNC are invalid with pending output"
REPLCONF_UNRECOGNIZED = "ERR Unrecognized REPLCONF option: {}"
REPLCONF_IP_TOO_LONG = "ERR REPLCONF ip-address provided by replica instance is too long: " \
    "{} bytes"
NOREPLICAS = "NOREPLICAS Not enough good replicas to write."
NOMASTERLINK = "NOMASTERLINK Can't SYNC while not connected with my master"
READONLY_REPLICA = "READONLY You can't write against a read only replica."
MASTERDOWN = "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."
WAIT_ON_REPLICA = ("ERR WAIT cannot be used with replica instances. Please also note that since "
                   "Redis 4.0 if a replica is configured to be writable (which is not the "
                   "default) writes to replicas are just local and are not propagated.")
INVALID_MASTER_PORT = "ERR Invalid master port"
REPLICAOF_SELF = "ERR Can't replicate from this server's own address"
REPLICAOF_CLUSTER = "ERR REPLICAOF not allowed in cluster mode."
FULLSYNC_FAILED = "ERR BGSAVE failed, replication can't continue"
VALUE_OUT_OF_RANGE_BETWEEN = "ERR value is out of range, value must between {} and {}"
RDB_FILTER_UNSUPPORTED = "ERR Unsupported rdb-filter-only option: {}"
REPLICAOF_FROM_REPLICA = "ERR Command is not valid when client is a replica."
REPLICATION_CYCLE = ("ERR replication cycle: node {} is this primary or one of its own "
                     "primaries")
