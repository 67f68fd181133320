"""The code generator: ``python -m codegen`` writes generated/ from asyncapi.yaml.

loader (asyncapi.yaml -> Contract), schemas (JSON Schema bundles), models (pydantic models by
datamodel-code-generator), render (events, catalog, dispatch, schemas/*.json, from templates/),
__main__ (CLI). runtime is not the generator: it is the hand-written code generated/ imports at
run time, so this file imports nothing.
"""
