"""`jsonschema.validate` that checks each schema once instead of at every call.

Rasa 3.6 validates every answer of the action server with
`jsonschema.validate(result, RemoteAction.action_response_format_spec())`.
`jsonschema.validate` first checks the schema itself against its meta-schema
(`check_schema`), then the answer. `make bench`'s profile of the Rasa server
(py-spy, 10 closed-loop conversations) put 55 % of its CPU time in
`check_schema` of that one constant schema, and 1.5 % in checking the answers.

`install()` swaps `jsonschema.validate` for `cached_validate`, which does the
same two steps but remembers the schemas already checked (by their JSON
text). The answer is still validated every time, with the same errors. Rasa
imports `validate` inside the function that uses it, so the swap reaches it.
"""

from __future__ import annotations

import json
import threading
from typing import Any, Dict, Tuple

import jsonschema
from jsonschema import exceptions, validators

MAX_SCHEMAS = 256

_original_validate = jsonschema.validate
_validators: Dict[Tuple[str, Any], Any] = {}
_lock = threading.Lock()


def _key(schema: Any, cls: Any) -> Tuple[str, Any]:
    return json.dumps(schema, sort_keys=True, default=repr), cls


def cached_validate(instance: Any, schema: Any, cls: Any = None, *args: Any, **kwargs: Any) -> None:
    """Same contract as `jsonschema.validate` (raises ValidationError or SchemaError)."""
    if args or kwargs:
        return _original_validate(instance, schema, cls, *args, **kwargs)
    key = _key(schema, cls)
    validator = _validators.get(key)
    if validator is None:
        klass = cls if cls is not None else validators.validator_for(schema)
        klass.check_schema(schema)
        validator = klass(schema)
        with _lock:
            if len(_validators) >= MAX_SCHEMAS:
                _validators.clear()
            _validators[key] = validator
    error = exceptions.best_match(validator.iter_errors(instance))
    if error is not None:
        raise error


def install() -> None:
    jsonschema.validate = cached_validate
    validators.validate = cached_validate


def uninstall() -> None:
    jsonschema.validate = _original_validate
    validators.validate = _original_validate
