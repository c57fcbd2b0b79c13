"""apimachinery's name and label syntax checks (k8s.io/apimachinery/pkg/util/validation), pure.

Each ``is_*`` returns the list of problems with a value (empty when it is valid) in the API's exact
words: the messages an API server puts in a field error's detail, and that label selector parsing
reports. Shared by the registry's validation (``kai_labs/sim/registry/validation.py``) and the
selector grammar (``kai_labs/k8s/labels.py``).

Source: staging/src/k8s.io/apimachinery/pkg/util/validation/validation.go (IsDNS1123Label,
IsDNS1123Subdomain, IsDNS1035Label, IsQualifiedName, IsValidLabelValue, IsValidPortNum,
IsValidPortName, IsValidPercent, IsConfigMapKey, IsHTTPHeaderName, RegexError, MaxLenError,
InclusiveRangeError) and pkg/api/validate/content/{dns,kube}.go.
"""

from __future__ import annotations

import re


def byte_len(s: str) -> int:
    """Go's ``len`` on a string counts bytes."""
    return len(s.encode("utf-8", "surrogatepass"))


def max_len_error(length: int) -> str:
    return f"must be no more than {length} characters"


def regex_error(msg: str, fmt: str, *examples: str) -> str:
    """RegexError: note the doubled space before each `` or`` (``'a', `` + `` or 'b', ``)."""
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    text = msg + " (e.g. "
    for i, ex in enumerate(examples):
        if i > 0:
            text += " or "
        text += f"'{ex}', "
    return text + f"regex used for validation is '{fmt}')"


def inclusive_range_error(lo: int, hi: int) -> str:
    return f"must be between {lo} and {hi}, inclusive"


_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
                      "and must start and end with an alphanumeric character")
_DNS1123_SUBDOMAIN_FMT = _DNS1123_LABEL_FMT + "(\\." + _DNS1123_LABEL_FMT + ")*"
_DNS1123_SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
                          "'-' or '.', and must start and end with an alphanumeric character")
_DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
_DNS1035_LABEL_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
                      "alphabetic character, and end with an alphanumeric character")
_QNAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_QNAME_MSG = ("must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
              "alphanumeric character")
_LABEL_VALUE_FMT = "(" + _QNAME_FMT + ")?"
_LABEL_VALUE_MSG = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
                    "'.', and must start and end with an alphanumeric character")
_PERCENT_FMT = "[0-9]+%"
_PERCENT_MSG = "a valid percent string must be a numeric string followed by an ending '%'"
_CONFIG_KEY_FMT = "[-._a-zA-Z0-9]+"
_CONFIG_KEY_MSG = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
_HTTP_HEADER_FMT = "[-A-Za-z0-9]+"
_HTTP_HEADER_MSG = "a valid HTTP header must consist of alphanumeric characters or '-'"

_RE_DNS1123_LABEL = re.compile(_DNS1123_LABEL_FMT)
_RE_DNS1123_SUBDOMAIN = re.compile(_DNS1123_SUBDOMAIN_FMT)
_RE_DNS1035_LABEL = re.compile(_DNS1035_LABEL_FMT)
_RE_QNAME = re.compile(_QNAME_FMT)
_RE_LABEL_VALUE = re.compile(_LABEL_VALUE_FMT)
_RE_PERCENT = re.compile(_PERCENT_FMT)
_RE_CONFIG_KEY = re.compile(_CONFIG_KEY_FMT)
_RE_HTTP_HEADER = re.compile(_HTTP_HEADER_FMT)
_RE_PORT_NAME_CHARSET = re.compile("[-a-z0-9]+")
_RE_ONE_LETTER = re.compile("[a-z]")


def _full(rx: re.Pattern[str], value: str) -> bool:
    return rx.fullmatch(value) is not None


def is_dns1123_label(value: str) -> list[str]:
    errs: list[str] = []
    if byte_len(value) > 63:
        errs.append(max_len_error(63))
    if not _full(_RE_DNS1123_LABEL, value):
        if _full(_RE_DNS1123_SUBDOMAIN, value):
            errs.append("must not contain dots")
        else:
            errs.append(regex_error(_DNS1123_LABEL_MSG, _DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errs


def is_dns1123_subdomain(value: str) -> list[str]:
    errs: list[str] = []
    if byte_len(value) > 253:
        errs.append(max_len_error(253))
    if not _full(_RE_DNS1123_SUBDOMAIN, value):
        errs.append(regex_error(_DNS1123_SUBDOMAIN_MSG, _DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


def is_dns1035_label(value: str) -> list[str]:
    errs: list[str] = []
    if byte_len(value) > 63:
        errs.append(max_len_error(63))
    if not _full(_RE_DNS1035_LABEL, value):
        errs.append(regex_error(_DNS1035_LABEL_MSG, _DNS1035_LABEL_FMT, "my-name", "abc-123"))
    return errs


def is_qualified_name(value: str) -> list[str]:
    """content.IsLabelKey (util/validation.IsQualifiedName is an alias of it)."""
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs.extend("prefix part " + m for m in is_dns1123_subdomain(prefix))
    else:
        return ["a valid label key " + regex_error(_QNAME_MSG, _QNAME_FMT, "MyName", "my.name", "123-abc")
                + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    if not name:
        errs.append("name part must be non-empty")
    elif byte_len(name) > 63:
        errs.append("name part " + max_len_error(63))
    if not _full(_RE_QNAME, name):
        errs.append("name part " + regex_error(_QNAME_MSG, _QNAME_FMT, "MyName", "my.name", "123-abc"))
    return errs


def is_valid_label_value(value: str) -> list[str]:
    errs: list[str] = []
    if byte_len(value) > 63:
        errs.append(max_len_error(63))
    if not _full(_RE_LABEL_VALUE, value):
        errs.append(regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


def is_valid_port_num(port: int) -> list[str]:
    return [] if 1 <= port <= 65535 else [inclusive_range_error(1, 65535)]


def is_valid_port_name(port: str) -> list[str]:
    """IsValidPortName (IANA_SVC_NAME): one message per failed check, in this order."""
    errs: list[str] = []
    if byte_len(port) > 15:
        errs.append(max_len_error(15))
    if not _full(_RE_PORT_NAME_CHARSET, port):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not _RE_ONE_LETTER.search(port):
        errs.append("must contain at least one letter (a-z)")
    if "--" in port:
        errs.append("must not contain consecutive hyphens")
    if port and (port[0] == "-" or port[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def is_valid_percent(value: str) -> list[str]:
    return [] if _full(_RE_PERCENT, value) else [regex_error(_PERCENT_MSG, _PERCENT_FMT, "1%", "93%")]


def is_config_map_key(value: str) -> list[str]:
    errs: list[str] = []
    if byte_len(value) > 253:
        errs.append(max_len_error(253))
    if not _full(_RE_CONFIG_KEY, value):
        errs.append(regex_error(_CONFIG_KEY_MSG, _CONFIG_KEY_FMT, "key.name", "KEY_NAME", "key-name"))
    if value == ".":
        errs.append("must not be '.'")
    elif value == "..":
        errs.append("must not be '..'")
    elif value.startswith(".."):
        errs.append("must not start with '..'")
    return errs


def is_http_header_name(value: str) -> list[str]:
    return [] if _full(_RE_HTTP_HEADER, value) else [regex_error(_HTTP_HEADER_MSG, _HTTP_HEADER_FMT,
                                                                "X-Header-Name")]
