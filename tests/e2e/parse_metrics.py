"""tests/e2e/parse_metrics.py FILE — parses a /metrics answer with Prometheus's own text-format parser and prints it as JSON.

Prints {"families": {NAME: TYPE}, "samples": [{"name", "labels", "value"}]}; a text the parser refuses
ends the script with status 1 and the parser's words on stderr. Run with /usr/bin/python3.11, which has
Debian's python3-prometheus-client.
"""
import json
import math
import sys

from prometheus_client.parser import text_string_to_metric_families


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        text = f.read()
    families, samples = {}, []
    try:
        for family in text_string_to_metric_families(text):
            families[family.name] = family.type
            for s in family.samples:
                value = s.value if math.isfinite(s.value) else str(s.value)
                samples.append({"name": s.name, "labels": dict(s.labels), "value": value})
    except ValueError as e:
        print(f"parse_metrics: not Prometheus text format: {e}", file=sys.stderr)
        return 1
    print(json.dumps({"families": families, "samples": samples}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
