# generated from asyncapi.yaml by codegen — do not edit
"""The base class of every generated model."""

from pydantic import BaseModel, ConfigDict


class ContractModel(BaseModel):
    """Audio bytes (`format: binary`) are bytes in Python and go out as Socket.IO binary
    attachments; in a JSON dump (logs, tests) they are base64, as in the contract's AudioBase64."""

    model_config = ConfigDict(ser_json_bytes="base64", val_json_bytes="base64")
