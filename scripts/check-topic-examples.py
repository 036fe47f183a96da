#!/usr/bin/env python3
"""Validate every example in topics/examples/ against its topic's JSON Schema (draft 2020-12).

Each topics/<name>.json names its value schema; examples live in topics/examples/<name>/{valid,invalid}/.
The schema's verdict must equal the folder's, except where topics/examples/<name>/expected.json sets
"schemaVerdict" for an example (cross-field rules a JSON Schema cannot express; the Swift validator
catches those). Exits non-zero if any schema is invalid, any verdict differs, or expected.json is stale.
Needs python3 and the `jsonschema` package (with `referencing`).
"""
import json
import sys
from pathlib import Path

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from referencing import Registry, Resource

TOPICS = Path(__file__).resolve().parent.parent / "topics"


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def main():
    failures = []
    schemas = {}
    for path in sorted((TOPICS / "schemas").glob("*.json")):
        schema = load(path)
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as e:
            failures.append(f"{path.name}: invalid schema: {e.message}")
        schemas[path.name] = schema
    registry = Registry().with_resources(
        (s["$id"], Resource.from_contents(s)) for s in schemas.values() if "$id" in s)

    checked = 0
    for topic_file in sorted(TOPICS.glob("*.json")):
        topic = load(topic_file)
        name = topic["name"]
        if topic_file.stem != name:
            failures.append(f"{topic_file.name}: file name does not match topic name {name}")
        examples_dir = TOPICS / "examples" / name
        if not topic.get("valueSchema"):
            if examples_dir.exists():
                failures.append(f"{name}: has examples but no valueSchema")
            continue
        schema_name = Path(topic["valueSchema"]).name
        if schema_name not in schemas:
            failures.append(f"{name}: value schema {topic['valueSchema']} not found")
            continue
        validator = Draft202012Validator(schemas[schema_name], registry=registry)
        manifest_path = examples_dir / "expected.json"
        manifest = load(manifest_path)["examples"] if manifest_path.exists() else {}
        seen = set()
        for folder in ("valid", "invalid"):
            files = sorted((examples_dir / folder).glob("*.json"))
            if not files:
                failures.append(f"{name}: no {folder} examples")
            for example in files:
                rel = f"{folder}/{example.name}"
                seen.add(rel)
                try:
                    instance = load(example)
                except (json.JSONDecodeError, UnicodeDecodeError) as e:
                    instance, parse_error = None, str(e)
                else:
                    parse_error = None
                errors = [parse_error] if parse_error else [
                    f"{'/'.join(map(str, e.absolute_path)) or '$'}: {e.message}" for e in validator.iter_errors(instance)]
                verdict = "invalid" if errors else "valid"
                expected = manifest.get(rel, {}).get("schemaVerdict", folder)
                checked += 1
                if verdict != expected:
                    detail = "; ".join(errors[:3]) if errors else "the schema accepts it"
                    failures.append(f"{name}/{rel}: schema says {verdict}, expected {expected} ({detail})")
        for rel in manifest:
            if rel not in seen:
                failures.append(f"{name}/expected.json: {rel} does not exist")

    for failure in failures:
        print("FAIL", failure)
    print(f"checked {checked} examples against {len(schemas)} schemas: {'FAILED' if failures else 'ok'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
