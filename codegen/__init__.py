"""The code generator: ``python -m codegen`` writes generated/ from asyncapi.yaml.

loader (asyncapi.yaml -> Contract), schemas (JSON Schema bundles), models (pydantic models by
datamodel-code-generator), render (events, catalog, dispatch, schemas/*.json), __main__ (CLI).
"""
