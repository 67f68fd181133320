# generated from asyncapi.yaml by codegen — do not edit
"""Code generated from asyncapi.yaml by `python -m codegen` (nox -s codegen).

models: pydantic models; events: Event names and OPERATIONS; catalog: providers, models,
voices and defaults; dispatch: ClientEventHandler, Emitter, register."""
