"""Label / field selector grammar, matching and error texts (apimachinery)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kai_labs.k8s import labels
from kai_labs.k8s.labels import (
    FIELD_LABELS,
    SelectorError,
    from_label_selector,
    normalize_field_selector,
    parse_field_selector,
    parse_selector,
    validate_field_selector,
)

KEY_MSG = ("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
           "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
           "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")
VALUE_MSG = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
             "and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or "
             "'12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")


@pytest.mark.parametrize("text, labels, expected", [
    ("", {"a": "b"}, True),
    ("a=b", {"a": "b"}, True),
    ("a==b", {"a": "b"}, True),
    ("a=b", {"a": "c"}, False),
    ("a!=b", {}, True),
    ("a!=b", {"a": "b"}, False),
    ("a in (x,y)", {"a": "y"}, True),
    ("a in (x,y)", {}, False),
    ("a notin (x)", {}, True),
    ("a notin (x)", {"a": "x"}, False),
    ("a", {"a": ""}, True),
    ("!a", {"a": ""}, False),
    ("!a", {}, True),
    ("a>1", {"a": "2"}, True),
    ("a>1", {"a": "1"}, False),
    ("a<1", {"a": "-5"}, True),
    ("a>1", {"a": "x"}, False),
    ("a=b,c=d", {"a": "b", "c": "d"}, True),
    ("a=b,c=d", {"a": "b"}, False),
    ("  a = b ,  c  ", {"a": "b", "c": "1"}, True),
    ("a=", {"a": ""}, True),
    ("a in ()", {"a": ""}, True),
    ("app.kubernetes.io/name=web", {"app.kubernetes.io/name": "web"}, True),
    ("in in (in)", {"in": "in"}, True),
])
def test_matches(text: str, labels: dict[str, str], expected: bool) -> None:
    assert parse_selector(text).matches(labels) is expected


def test_none_labels_and_empty() -> None:
    assert parse_selector("").empty
    assert parse_selector("!a").matches(None)
    assert not parse_selector("a").empty


@pytest.mark.parametrize("text, canonical", [
    ("b=1,a=2", "a=2,b=1"),
    ("x in (foo,,baz),y,z notin ()", "x in (,baz,foo),y,z notin ()"),
    ("a==b", "a==b"),
    ("a in (c,b,c)", "a in (b,c)"),
    ("!a, b>3", "!a,b>3"),
])
def test_canonical_string(text: str, canonical: str) -> None:
    assert str(parse_selector(text)) == canonical


@pytest.mark.parametrize("text, message", [
    ("a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"),
    ("a=b c", "found 'c', expected: ',' or 'end of string'"),
    ("a in x", "unable to parse requirement: found 'x' expected: '('"),
    ("a,", "found '', expected: identifier after ','"),
    ("=a", "found '=', expected: !, identifier, or 'end of string'"),
    ("a in (b", "unable to parse requirement: found '', expected: ',' or ')'"),
    ("a in (b c)", "unable to parse requirement: found 'c', expected: ',' or ')'"),
    ("!", "unable to parse requirement: found '', expected: identifier"),
    ("!a=b", "found '=', expected: ',' or 'end of string'"),
    ("a>x", "unable to parse requirement: values[0]: Invalid value: \"x\": "
            "for 'Gt', 'Lt' operators, the value must be an integer"),
    ("A_", f"unable to parse requirement: <nil>: Invalid value: \"A_\": {KEY_MSG}"),
    ("a=b/c", f"unable to parse requirement: values[0][a]: Invalid value: \"b/c\": {VALUE_MSG}"),
    ("/a", "unable to parse requirement: <nil>: Invalid value: \"/a\": prefix part must be non-empty"),
    ("a=" + "x" * 64, "unable to parse requirement: values[0][a]: Invalid value: \"" + "x" * 64
     + "\": must be no more than 63 characters"),
])
def test_errors(text: str, message: str) -> None:
    with pytest.raises(SelectorError) as e:
        parse_selector(text)
    assert str(e.value) == message


def test_error_is_value_error() -> None:
    assert issubclass(SelectorError, ValueError)


def test_label_selector_nil_and_empty() -> None:
    assert not from_label_selector(None).matches({})
    assert not from_label_selector(None).empty
    assert from_label_selector({}).matches({"x": "y"})
    assert from_label_selector({"matchLabels": {}, "matchExpressions": []}).empty


def test_label_selector_expressions() -> None:
    sel = from_label_selector({
        "matchLabels": {"app": "web"},
        "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["fe", "be"]},
            {"key": "canary", "operator": "DoesNotExist"},
            {"key": "env", "operator": "NotIn", "values": ["prod"]},
            {"key": "team", "operator": "Exists"},
        ],
    })
    assert str(sel) == "app=web,!canary,env notin (prod),team,tier in (be,fe)"
    assert sel.matches({"app": "web", "tier": "fe", "team": "x"})
    assert not sel.matches({"app": "web", "tier": "fe", "team": "x", "canary": "1"})
    assert not sel.matches({"app": "web", "tier": "fe", "team": "x", "env": "prod"})


def test_label_selector_errors() -> None:
    with pytest.raises(SelectorError) as e:
        from_label_selector({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]})
    assert str(e.value) == ("values: Invalid value: []string{}: for 'in', 'notin' operators, "
                            "values set can't be empty")
    with pytest.raises(SelectorError) as e:
        from_label_selector({"matchExpressions": [{"key": "a", "operator": "Foo"}]})
    assert str(e.value) == '"Foo" is not a valid label selector operator'
    with pytest.raises(SelectorError) as e:
        from_label_selector({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]})
    assert str(e.value) == ('values: Invalid value: []string{"x"}: values set must be empty for exists '
                            'and does not exist')
    with pytest.raises(SelectorError) as e:
        from_label_selector({"matchLabels": {"a": "b c"}})
    assert str(e.value).startswith('values[0][a]: Invalid value: "b c": a valid label')


# --- round trip property ----------------------------------------------------------

_alnum = st.sampled_from("abcxyzAZ019")
_name = st.one_of(_alnum, st.builds(lambda a, m, b: a + m + b, _alnum,
                                    st.text(alphabet="abz09._-", max_size=6), _alnum))
_prefix = st.text(alphabet="abcxyz", min_size=1, max_size=5)
_key = st.one_of(_name, st.builds(lambda p, n: f"{p}.io/{n}", _prefix, _name))
_value = st.one_of(st.just(""), _name)


@st.composite
def _requirement_text(draw: st.DrawFn) -> str:
    key = draw(_key)
    kind = draw(st.sampled_from(["=", "==", "!=", "in", "notin", "exists", "!", ">", "<"]))
    if kind == "exists":
        return key
    if kind == "!":
        return "!" + key
    if kind in (">", "<"):
        return f"{key}{kind}{draw(st.integers(0, 1000))}"
    if kind in ("in", "notin"):
        vals = draw(st.lists(_value, min_size=1, max_size=4))
        return f"{key} {kind} ({','.join(vals)})"
    return f"{key}{kind}{draw(_value)}"


@given(st.lists(_requirement_text(), max_size=5))
def test_round_trip(reqs: list[str]) -> None:
    sel = parse_selector(",".join(reqs))
    again = parse_selector(str(sel))
    assert again == sel
    assert str(again) == str(sel)


@given(st.dictionaries(_key, _value, max_size=4), st.lists(_requirement_text(), max_size=4))
def test_and_semantics(labels: dict[str, str], reqs: list[str]) -> None:
    whole = parse_selector(",".join(reqs)).matches(labels)
    assert whole == all(parse_selector(r).matches(labels) for r in reqs)


# --- field selectors ----------------------------------------------------------------

POD = {
    "kind": "Pod",
    "metadata": {"name": "web-1", "namespace": "shop"},
    "spec": {"nodeName": "node-a", "restartPolicy": "Always", "hostNetwork": True,
             "serviceAccountName": "default", "schedulerName": "default-scheduler"},
    "status": {"phase": "Running", "podIP": "10.0.0.5", "podIPs": [{"ip": "10.0.0.5"}]},
}


@pytest.mark.parametrize("text, expected", [
    ("", True),
    ("metadata.name=web-1", True),
    ("metadata.name==web-1", True),
    ("metadata.name!=web-1", False),
    ("metadata.namespace=shop,status.phase=Running", True),
    ("status.phase!=Running,spec.restartPolicy=Always", False),
    ("spec.nodeName=node-a", True),
    ("spec.hostNetwork=true", True),
    ("spec.hostNetwork=false", False),
    ("status.podIP=10.0.0.5", True),
    ("status.podIPs=10.0.0.5", False),   # accepted, but never part of the field set
    ("status.nominatedNodeName=", True),
])
def test_pod_field_selector(text: str, expected: bool) -> None:
    sel = parse_field_selector(text)
    assert validate_field_selector("Pod", sel) is None
    assert sel.matches(POD) is expected


def test_host_network_defaults_false() -> None:
    pod = {"kind": "Pod", "metadata": {"name": "p"}, "spec": {}}
    assert parse_field_selector("spec.hostNetwork=false").matches(pod)


def test_spec_host_alias() -> None:
    sel = parse_field_selector("spec.host=node-a")
    assert validate_field_selector("Pod", sel) is None
    assert normalize_field_selector("Pod", sel).matches(POD)


def test_event_fields() -> None:
    ev = {"kind": "Event", "metadata": {"name": "e", "namespace": "shop"},
          "involvedObject": {"kind": "Pod", "name": "web-1", "namespace": "shop"},
          "reason": "Scheduled", "type": "Normal", "source": {"component": "default-scheduler"}}
    assert parse_field_selector("involvedObject.kind=Pod,involvedObject.name=web-1").matches(ev)
    assert parse_field_selector("source=default-scheduler").matches(ev)
    assert parse_field_selector("type!=Warning,reason=Scheduled").matches(ev)
    ev2 = {"kind": "Event", "metadata": {"name": "e"}, "reportingComponent": "kubelet"}
    assert parse_field_selector("source=kubelet,reportingComponent=kubelet").matches(ev2)


def test_node_namespace_service_secret_fields() -> None:
    node = {"kind": "Node", "metadata": {"name": "n1"}, "spec": {"unschedulable": True}}
    assert parse_field_selector("spec.unschedulable=true").matches(node)
    assert parse_field_selector("spec.unschedulable=false").matches({"kind": "Node", "metadata": {"name": "n"}})
    ns = {"kind": "Namespace", "metadata": {"name": "shop"}, "status": {"phase": "Active"}}
    assert parse_field_selector("status.phase=Active").matches(ns)
    svc = {"kind": "Service", "metadata": {"name": "s", "namespace": "d"},
           "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.10"}}
    assert parse_field_selector("spec.type=ClusterIP,spec.clusterIP=10.96.0.10").matches(svc)
    sec = {"kind": "Secret", "metadata": {"name": "s"}, "type": "Opaque"}
    assert parse_field_selector("type=Opaque").matches(sec)
    rs = {"kind": "ReplicaSet", "metadata": {"name": "r"}, "status": {"replicas": 3}}
    assert parse_field_selector("status.replicas=3").matches(rs)


@pytest.mark.parametrize("kind, text, message", [
    ("Pod", "spec.foo=1", "field label not supported: spec.foo"),
    ("Node", "metadata.namespace=x", "field label not supported: metadata.namespace"),
    ("Namespace", "spec.finalizers=x", "field label not supported: spec.finalizers"),
    ("Event", "message=x", "field label not supported: message"),
    ("Ingress", "foo.bar=baz",
     '"foo.bar" is not a known field selector: only "metadata.name", "metadata.namespace"'),
    ("Deployment", "spec.replicas=1",
     '"spec.replicas" is not a known field selector: only "metadata.name", "metadata.namespace"'),
])
def test_unsupported_field_labels(kind: str, text: str, message: str) -> None:
    assert validate_field_selector(kind, parse_field_selector(text)) == message


def test_field_labels_table() -> None:
    assert {"metadata.name", "metadata.namespace"} <= FIELD_LABELS["Pod"]
    assert "source" in FIELD_LABELS["Event"]
    assert FIELD_LABELS["Node"] == {"metadata.name", "spec.unschedulable"}
    assert validate_field_selector("ConfigMap", parse_field_selector("metadata.name=x")) is None


@pytest.mark.parametrize("text, message", [
    ("a", "invalid selector: 'a'; can't understand 'a'"),
    ("a=b,c", "invalid selector: 'a=b,c'; can't understand 'c'"),
    ("a=b\\x", "invalid field selector: invalid escape sequence: \\x"),
    ("a=b\\", "invalid field selector: invalid escape sequence: \\"),
    ("a=b=c", "invalid field selector: unescaped character in value: 61"),
])
def test_field_selector_errors(text: str, message: str) -> None:
    with pytest.raises(SelectorError) as e:
        parse_field_selector(text)
    assert str(e.value) == message


def test_field_selector_escaping_and_string() -> None:
    sel = parse_field_selector("metadata.name=a\\,b\\=c\\\\,metadata.namespace==x")
    assert [(t.field, t.value) for t in sel.terms] == [("metadata.name", "a,b=c\\"), ("metadata.namespace", "x")]
    assert str(sel) == "metadata.name=a\\,b\\=c\\\\,metadata.namespace=x"
    assert parse_field_selector(str(sel)) == sel
    assert parse_field_selector(",,").empty
    assert parse_field_selector("=").empty
    assert sel.requires_exact_match("metadata.namespace") == "x"


@given(st.lists(st.tuples(st.sampled_from(["metadata.name", "status.phase", "spec.nodeName"]),
                          st.text(max_size=6), st.booleans()), max_size=4))
def test_field_round_trip(terms: list[tuple[str, str, bool]]) -> None:
    from kai_labs.k8s.labels import escape_field_value
    text = ",".join(f"{f}{'!=' if neg else '='}{escape_field_value(v)}" for f, v, neg in terms)
    sel = parse_field_selector(text)
    assert parse_field_selector(str(sel)) == sel


def test_negative_gt_value_is_not_a_label_value() -> None:
    # the value is validated as a label value too, so a leading '-' is refused
    with pytest.raises(SelectorError) as e:
        parse_selector("a>-1")
    assert str(e.value).startswith('unable to parse requirement: values[0][a]: Invalid value: "-1": ')


_POD_VALUES = st.one_of(st.none(), st.sampled_from(["", "n1", "n2", "Running", "Pending", "Always", "default"]))


@given(node=_POD_VALUES, phase=_POD_VALUES, ns=_POD_VALUES, policy=_POD_VALUES,
       field=st.sampled_from(["spec.nodeName", "status.phase", "metadata.namespace", "metadata.name",
                              "spec.restartPolicy", "status.nominatedNodeName"]),
       value=st.sampled_from(["", "n1", "Running", "default", "p"]), negate=st.booleans())
def test_a_pods_plain_fields_match_as_the_whole_selectable_set_says(  # type: ignore[no-untyped-def]
        node, phase, ns, policy, field, value, negate):
    """A watch matches each event against every watcher's selector, so a Pod selector on plain fields
    (a kubelet's spec.nodeName) reads just those; the answer is the full ToSelectableFields one."""
    pod = {"kind": "Pod", "metadata": {"name": "p", **({"namespace": ns} if ns is not None else {})},
           "spec": {k: v for k, v in (("nodeName", node), ("restartPolicy", policy)) if v is not None},
           "status": {"phase": phase} if phase is not None else {}}
    sel = labels.parse_field_selector(f"{field}{'!=' if negate else '='}{value}")
    whole = labels.selectable_fields(pod, "Pod")
    assert sel.matches(pod, "Pod") == all(t.matches(whole) for t in sel.terms)


_PLAIN_FIELDS = ["metadata.name", "metadata.namespace", "spec.nodeName", "spec.restartPolicy",
                 "spec.schedulerName", "spec.serviceAccountName", "status.phase", "status.nominatedNodeName"]


@given(pod=st.fixed_dictionaries({
           "metadata": st.fixed_dictionaries({"name": st.sampled_from(["a", "b"]),
                                              "namespace": st.sampled_from(["x", ""])}),
           "spec": st.dictionaries(st.sampled_from(["nodeName", "restartPolicy", "schedulerName",
                                                    "serviceAccountName"]),
                                   st.one_of(st.sampled_from(["a", "", "Always"]), st.none())),
           "status": st.dictionaries(st.sampled_from(["phase", "nominatedNodeName"]),
                                     st.one_of(st.sampled_from(["a", "Running", ""]), st.none()))}),
       terms=st.lists(st.tuples(st.sampled_from(_PLAIN_FIELDS), st.sampled_from(["=", "!="]),
                                st.sampled_from(["a", "", "Running", "Always"])), min_size=1, max_size=3))
def test_plain_pod_fields_fast_path_agrees_with_the_selectable_fields(pod: dict[str, object],
                                                                      terms: list[tuple[str, str, str]]) -> None:
    """A watch matches every Pod event against each watcher's selector through a fast path that reads
    only the named fields: it must answer as the whole selectable set (selectable_fields) does."""
    sel = parse_field_selector(",".join(f"{f}{op}{v}" for f, op, v in terms))
    pod = {"kind": "Pod", **pod}
    fields = labels.selectable_fields(pod, "Pod")
    assert sel.matches(pod) == all(t.matches(fields) for t in sel.terms)
