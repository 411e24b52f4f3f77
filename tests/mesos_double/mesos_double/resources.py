"""--resources / --attributes parsing into the JSON 'model' used by /state."""

import json

DEFAULTS = {"cpus": 1.0, "mem": 1024.0, "disk": 10240.0, "ports": "[31000-32000]"}


def _value(text):
    text = text.strip()
    if text.startswith("[") or text.startswith("{"):
        return text.replace(" ", "")
    try:
        return float(text)
    except ValueError:
        return text


def _from_json(doc):
    out = {}
    for r in doc:
        name = r["name"]
        if "scalar" in r:
            out[name] = out.get(name, 0.0) + float(r["scalar"]["value"])
        elif "ranges" in r:
            rs = r["ranges"].get("range", [])
            out[name] = "[" + ", ".join("%d-%d" % (x["begin"], x["end"]) for x in rs) + "]"
        elif "set" in r:
            out[name] = "{" + ",".join(r["set"].get("item", [])) + "}"
    return out


def parse_resources(text):
    """Returns the model dict (cpus/gpus/mem/disk always present, like model(Resources))."""
    model = {"cpus": 0.0, "gpus": 0.0, "mem": 0.0, "disk": 0.0}
    given = {}
    if text:
        stripped = text.strip()
        if stripped.startswith("["):
            given = _from_json(json.loads(stripped))
        else:
            for item in stripped.split(";"):
                if not item.strip():
                    continue
                name, _, value = item.partition(":")
                name = name.split("(")[0].strip()
                v = _value(value)
                if isinstance(v, float) and isinstance(given.get(name), float):
                    given[name] += v
                else:
                    given[name] = v
    for k, v in DEFAULTS.items():
        if k not in given:
            given[k] = v
    model.update(given)
    return model


def parse_attributes(text):
    out = {}
    if not text:
        return out
    for item in text.split(";"):
        if not item.strip():
            continue
        name, _, value = item.partition(":")
        out[name.strip()] = _value(value)
    return out
