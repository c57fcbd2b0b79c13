"""Shared API machinery (staging/src/k8s.io/apimachinery): ``errors.py`` (Status, field errors),
``patch.py`` (strategic merge, JSON merge, JSON patch), ``protobuf.py`` (kubectl's protobuf bodies),
``schema.py`` (strict decoding from the official client's models)."""
