# generated from asyncapi.yaml by codegen — do not edit
"""Code generated from asyncapi.yaml by `python -m codegen` (nox -s codegen); the code that
walks it is codegen.runtime.

models: pydantic models; events: Event names and the operation table; catalog: providers,
models, voices and defaults; dispatch: ClientEventHandler and Emitter."""
