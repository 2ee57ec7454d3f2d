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
TIMEOUT_NOT_FLOAT = "ERR timeout is not a float or out of range"
COUNT_NEGATIVE = "ERR COUNT must be > 0"
DECR_OVERFLOW = "ERR decrement would overflow"
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
HELLO_SYNTAX = "ERR Syntax error in HELLO option '{}'"
HELLO_NOAUTH = (
    "NOAUTH HELLO must be called with the client already authenticated, otherwise the "
    "HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and "
    "select the RESP protocol version at the same time")
CLIENT_LIST_BAD_TYPE = "ERR Unknown client type '{}'"
CLIENT_KILL_BAD_TYPE = "ERR Unknown client type '{}'"
INVALID_CLIENT_ID = "ERR Invalid client ID"
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
SHUTDOWN_FAILED = "ERR Errors trying to SHUTDOWN. Check logs."
SHUTDOWN_NOT_IN_PROGRESS = "ERR No shutdown in progress."
SWAPDB_BAD_FIRST = "ERR invalid first DB index"
SWAPDB_BAD_SECOND = "ERR invalid second DB index"
COMMAND_GETKEYS_INVALID = "ERR Invalid command specified"
COMMAND_GETKEYS_ARITY = "ERR Invalid number of arguments specified for command"
COMMAND_GETKEYS_NOKEYS = "ERR The command has no key arguments"
MISCONF_DISK = (
    "MISCONF Errors writing to disk: the last write to the data store failed; "
    "writes are refused until it succeeds. Check the server log.")

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
