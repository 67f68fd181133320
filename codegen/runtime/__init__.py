"""The contract runtime: ordinary, hand-written code that generated/ imports (as generated
``*_pb2.py`` imports ``google.protobuf``). It must import nothing that only the ``codegen`` extra
installs: the server imports it at run time.

model: the generated models' base class and the WIRE validation context; table: the operation
table generated/events.py fills in; dispatch: Client, errors, room routing and the one
dispatcher that walks the table; describe: validation errors as short messages; catalog: a row
of generated/catalog.py.
"""

from .catalog import ProviderCatalog
from .describe import describe
from .dispatch import (
    Client,
    ClientError,
    ConnectionRefused,
    Dispatcher,
    Handler,
    RoomEmitter,
    register,
)
from .model import WIRE, ContractModel, bytes_as_base64
from .table import HANDSHAKE_SCHEMA, Audience, Direction, Operation, OperationTable

__all__ = [
    "HANDSHAKE_SCHEMA",
    "WIRE",
    "Audience",
    "Client",
    "ClientError",
    "ConnectionRefused",
    "ContractModel",
    "Direction",
    "Dispatcher",
    "Handler",
    "Operation",
    "OperationTable",
    "ProviderCatalog",
    "RoomEmitter",
    "bytes_as_base64",
    "describe",
    "register",
]
