"""AWX's own checks of a survey spec (awx/api/views JobTemplateSurveySpec._validate_spec_data)
and of a custom credential type (awx/main/fields.py CredentialTypeInputField and
CredentialTypeInjectorField), restated as plain functions that return the problems found."""

import re

# awx/main/constants.py SURVEY_TYPE_MAPPING
SURVEY_TYPES = {"text": str, "textarea": str, "password": str, "multiplechoice": str, "multiselect": str,
                "integer": int, "float": (float, int)}
NAME = re.compile(r"^[a-zA-Z_]+[a-zA-Z0-9_]*$")
INPUT_FIELD_KEYS = {"id", "label", "type", "format", "choices", "help_text", "multiline", "secret",
                    "ask_at_runtime", "default"}


def survey_problems(spec):
    problems = []
    for field, kind in (("name", str), ("description", str), ("spec", list)):
        if not isinstance(spec.get(field), kind):
            problems.append("%s missing or not %s" % (field, kind.__name__))
    if problems:
        return problems
    if not spec["spec"]:
        problems.append("spec has no questions")
    seen = set()
    for idx, item in enumerate(spec["spec"]):
        where = "question %d" % idx
        for field in ("type", "question_name", "variable"):
            if not isinstance(item.get(field), str):
                problems.append("%s: %s missing or not a string" % (where, field))
        if not isinstance(item.get("required"), bool):
            problems.append("%s: required missing or not a boolean" % where)
        variable, qtype = item.get("variable"), item.get("type")
        if not NAME.match(variable or ""):
            problems.append("%s: %r is not a variable name" % (where, variable))
        if variable in seen:
            problems.append("%s: variable %s duplicated" % (where, variable))
        seen.add(variable)
        if qtype not in SURVEY_TYPES:
            problems.append("%s: type %r is not one of %s" % (where, qtype, ", ".join(SURVEY_TYPES)))
            continue
        default = item.get("default", "")
        if default != "" and not isinstance(default, SURVEY_TYPES[qtype]):
            problems.append("%s: default %r is not %s" % (where, default, qtype))
        if isinstance(default, bool):
            problems.append("%s: default %r is a boolean" % (where, default))
        for key in ("min", "max"):
            if item.get(key) is not None and not isinstance(item[key], int):
                problems.append("%s: %s is not an integer" % (where, key))
        if qtype in ("multiplechoice", "multiselect"):
            choices = item.get("choices")
            if choices is None:
                problems.append("%s: %s without choices" % (where, qtype))
                continue
            choices = choices.splitlines() if isinstance(choices, str) else choices
            defaults = default.splitlines() if isinstance(default, str) else default
            if qtype == "multiplechoice" and len(defaults) > 1:
                problems.append("%s: more than one default" % where)
            if any(d not in choices for d in defaults):
                problems.append("%s: default %r is not a choice" % (where, default))
        if isinstance(default, str) and default.startswith("$encrypted$"):
            problems.append("%s: $encrypted$ default" % where)
    return problems


def credential_type_problems(ctype):
    problems = []
    if ctype.get("kind") not in ("cloud", "net"):
        problems.append("kind %r: custom credential types are cloud or net" % ctype.get("kind"))
    inputs, injectors = ctype.get("inputs", {}), ctype.get("injectors", {})
    if set(inputs) - {"fields", "required"}:
        problems.append("inputs: unknown keys %s" % sorted(set(inputs) - {"fields", "required"}))
    ids = []
    for field in inputs.get("fields", []):
        fid = field.get("id")
        if not NAME.match(fid or "") or fid == "tower":
            problems.append("field id %r is invalid" % fid)
        if fid in ids:
            problems.append("field id %s duplicated" % fid)
        ids.append(fid)
        if "label" not in field:
            problems.append("%s: no label" % fid)
        if set(field) - INPUT_FIELD_KEYS:
            problems.append("%s: unknown keys %s" % (fid, sorted(set(field) - INPUT_FIELD_KEYS)))
        ftype = field.get("type", "string")
        if ftype not in ("string", "boolean"):
            problems.append("%s: type %r" % (fid, ftype))
            continue
        if "default" in field and not isinstance(field["default"], {"string": str, "boolean": bool}[ftype]):
            problems.append("%s: default %r is not a %s" % (fid, field["default"], ftype))
        for key in ("choices", "multiline", "format", "secret"):
            if key in field and ftype != "string":
                problems.append("%s: %s not allowed for %s" % (fid, key, ftype))
        if "choices" in field and "default" in field and field["default"] not in field["choices"]:
            problems.append("%s: default %r is not a choice" % (fid, field["default"]))
    for fid in inputs.get("required", []):
        if fid not in ids:
            problems.append("required %s is not a field" % fid)
    if set(injectors) - {"file", "env", "extra_vars"}:
        problems.append("injectors: unknown keys %s" % sorted(set(injectors) - {"file", "env", "extra_vars"}))
    for key in injectors.get("extra_vars", {}):
        if not NAME.match(key):
            problems.append("extra_vars: %r is not a variable name" % key)
    return problems
