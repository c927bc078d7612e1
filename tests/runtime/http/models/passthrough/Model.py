import json


class Model:
    def predict_raw(self, raw):
        if isinstance(raw, dict):  # multipart bodies arrive parsed, as in Seldon
            return json.dumps({"fields": sorted(raw), "kind": "multipart"})
        if isinstance(raw, (bytes, bytearray)):
            raw = bytes(raw).decode("utf-8")
        return '{"echo": %d, "kind": "%s"}' % (len(raw), "raw")
