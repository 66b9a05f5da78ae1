"""Code and documents generated from a catalog: Pydantic models and JSON Schemas."""

from rtbfast.codegen.pydantic_models import Generated, generate

__all__ = ["Generated", "generate"]
