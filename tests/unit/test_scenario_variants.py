"""Scenario variants (issue #14 part 5): the same break with other names, labels and ports, per learner or seed.

Pure tests over the scenario files (no cluster): the default variant is today's files; a learner's variant is
stable across processes and differs between learners; every rendered file is valid YAML in which no default
token of a varied value survives and no alternative collides with another word of the scenario.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kai_labs.k8s import validation
from kai_labs.labs import checks, diagnose, vary
from kai_labs.labs import scenario as sc

VARIED = [n for n in sc.names() if sc._vary_table(sc.SCENARIO_DIR / n)]
KEYS = [1, 2, 3, 7, 42, 1234, 9999]
NAME_OR_PORT = ["wrong-targetport", "port-vs-targetport", "named-port-mismatch", "wrong-selector",
                "selector-too-broad", "headless-port"]


@pytest.fixture(autouse=True)
def _no_learner(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAI_LABS_LEARNER", raising=False)


def _files(name: str) -> dict[str, str]:
    path = sc.SCENARIO_DIR / name
    return {p.name: p.read_text() for p in sorted(path.glob("*.yaml"))}


def _without_vary_block(text: str) -> str:
    """spec.yaml without its ``vary:`` block (which names the alternatives on purpose)."""
    out, skip = [], False
    for line in text.split("\n"):
        if line.startswith("vary:") or line.startswith("# what varies"):
            skip = True
            continue
        if skip and line.startswith("  "):
            continue
        skip = False
        out.append(line)
    return "\n".join(out)


def _tokens(text: str) -> set[str]:
    return set(re.findall(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]+(?![A-Za-z0-9_-])", text))


def test_the_six_name_label_port_scenarios_vary() -> None:
    assert set(NAME_OR_PORT) <= set(VARIED), VARIED


@pytest.mark.parametrize("name", sc.names())
def test_default_variant_is_todays_files(name: str) -> None:
    """No learner, no vary: the texts, manifests and fix are the files as committed (outputs do not move)."""
    s = sc.get(name)
    assert s.vary_key == 0 and s.values == {}
    path = sc.SCENARIO_DIR / name
    assert s.manifests() == (path / "manifests.yaml").read_text()
    spec = yaml.safe_load((path / "spec.yaml").read_text())
    assert (s.symptom, s.objective, list(s.hints), s.debrief) == (
        spec["symptom"], spec["objective"], spec["hints"], spec["debrief"])
    if (path / "solution.yaml").exists():
        assert s.solution_ops() == [list(map(str, op["kubectl"])) for op in yaml.safe_load(
            (path / "solution.yaml").read_text())]


def test_render_replaces_whole_tokens_only_and_in_one_pass() -> None:
    text = "web WEB_URL webhook web-frontend http://web.ns:8080/x deploy/web --http-port=8080 80 8080 3000"
    out = vary.render(text, {"web": "cart", "8080": "3000", "3000": "9000"})
    assert out == ("cart WEB_URL webhook web-frontend http://cart.ns:3000/x deploy/cart --http-port=3000 80 3000 "
                   "9000")
    assert vary.render(text, {}) == text


@pytest.mark.parametrize("name", VARIED)
@pytest.mark.parametrize("k", KEYS)
def test_rendered_files_are_valid_and_no_default_survives(name: str, k: int) -> None:
    table = sc._vary_table(sc.SCENARIO_DIR / name)
    vals = vary.values(name, k, table)
    assert set(vals) == set(table) and all(vals[t] != t for t in vals)
    assert len(set(vals.values())) == len(vals), f"two roles got one value: {vals}"
    for fname, text in _files(name).items():
        body = _without_vary_block(text) if fname == "spec.yaml" else text
        out = vary.render(body, vals)
        docs = [d for d in yaml.safe_load_all(out) if d is not None]
        assert docs, fname
        left = _tokens(out) & set(vals)
        assert not left, f"{name} v{k} {fname}: default token(s) {left} survived rendering"
    s = sc._scenario(name, k)
    assert s.values == vals and s.vary_key == k
    m = [d for d in yaml.safe_load_all(s.manifests()) if d]
    assert m[0]["kind"] == "Namespace"
    assert m[0]["metadata"]["annotations"][sc.VARIANT_ANNOTATION] == f"v{k}"
    # the annotation is opaque: it names no value and no break
    assert not any(v in m[0]["metadata"]["annotations"][sc.VARIANT_ANNOTATION] for v in vals.values())
    for op in s.solution_ops():
        assert not (_tokens(" ".join(op)) & set(vals)), op


@pytest.mark.parametrize("name", VARIED)
def test_no_alternative_collides_with_another_word_of_the_scenario(name: str) -> None:
    """An alternative that already appears in the files would merge two roles (and hide a missed default)."""
    table = sc._vary_table(sc.SCENARIO_DIR / name)
    words: set[str] = set()
    for fname, text in _files(name).items():
        words |= _tokens(_without_vary_block(text) if fname == "spec.yaml" else text)
    for tok, alts in table.items():
        assert tok in words, f"{name}: vary names {tok!r}, which its files never use"
        clash = set(alts) & words
        assert not clash, f"{name}: alternatives of {tok!r} already used in the files: {clash}"


@pytest.mark.parametrize("name", VARIED)
def test_the_variant_reaches_checks_and_diagnosis(name: str) -> None:
    s = sc._scenario(name, 7)
    d = s.values
    if "web" in d:
        assert s.service == d["web"] and s.intended == d["web"]
    look = [c for h in diagnose.accepted(s) for c in diagnose.look_commands(s, h)]
    assert look and not any(_tokens(c) & set(d) for c in look), look
    ev = [str(w) for w in s.diagnose_spec.get("evidence") or []]
    assert not (set(ev) & set(d)), ev
    assert not any(_tokens(str(p)) & set(d) for _, p in s.checks)
    assert not any(_tokens(json.dumps(k)) & set(d) for k in s.keep + s.keep_ports)


def test_wrong_fix_recogniser_compares_with_the_variants_manifests() -> None:
    """original() (what the wrong-fix recognisers compare with) is the variant's broken state, not 3000/8080/80."""
    s = sc._scenario("wrong-targetport", 5)
    ctx = checks.Context(cluster=None, scenario=s)
    orig = checks.original(ctx)
    svc = orig[("Service", s.namespace, s.service)]
    dep = orig[("Deployment", s.namespace, s.intended)]
    assert svc["spec"]["ports"][0]["targetPort"] == int(s.values["8080"])
    assert dep["spec"]["template"]["spec"]["containers"][0]["args"][1] == f"--http-port={s.values['3000']}"


def test_learner_variant_is_stable_and_differs_between_learners(monkeypatch: pytest.MonkeyPatch) -> None:
    keys = {who: vary.learner_key("wrong-targetport", who) for who in [f"learner{i}" for i in range(40)]}
    assert all(k != 0 for k in keys.values())
    table = sc._vary_table(sc.SCENARIO_DIR / "wrong-targetport")
    combos = {json.dumps(vary.values("wrong-targetport", k, table), sort_keys=True) for k in keys.values()}
    assert len(combos) >= 30, f"40 learners share only {len(combos)} variants"
    # per scenario too: one learner's variants of two scenarios are keyed separately
    assert vary.learner_key("wrong-targetport", "ann") != vary.learner_key("wrong-selector", "ann")
    monkeypatch.setenv("KAI_LABS_LEARNER", "ann")
    s = sc.get("wrong-targetport")
    assert s.vary_key == vary.learner_key("wrong-targetport", "ann") and s.values
    assert s.namespace == "ann-lab-wrong-targetport"
    assert s.service == s.values["web"]
    assert "namespace: ann-lab-wrong-targetport" in s.manifests()


def test_same_learner_same_variant_in_another_process() -> None:
    code = ("import json; from kai_labs.labs import scenario as sc; s = sc.get('named-port-mismatch'); "
            "print(json.dumps([s.vary_key, s.values, s.hints[2]]))")
    env = dict(os.environ, KAI_LABS_LEARNER="bea", PYTHONHASHSEED="random")
    runs = [subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True,
                           cwd=Path(__file__).resolve().parents[2]).stdout for _ in range(2)]
    assert runs[0] == runs[1]
    k, vals, _ = json.loads(runs[0])
    assert k == vary.learner_key("named-port-mismatch", "bea")
    assert vals == vary.values("named-port-mismatch", k, sc._vary_table(sc.SCENARIO_DIR / "named-port-mismatch"))


def test_annotation_round_trip() -> None:
    assert vary.encode(None, 0) is None
    assert vary.decode(vary.encode("case-12ab34cd", 17)) == ("case-12ab34cd", 17)
    assert vary.decode(vary.encode(None, 5)) == (None, 5)
    assert vary.decode("case-12ab34cd") == ("case-12ab34cd", 0)
    assert vary.decode(None) == (None, 0)


def test_seed_keys() -> None:
    assert vary.seed_key(0) == 0 and vary.seed_key(1) == 1 and vary.seed_key(vary.KEY_SPACE + 1) == 1
    with pytest.raises(ValueError):
        vary.seed_key(-1)
    with pytest.raises(sc.ScenarioError):
        sc._vary_key(-3)


def test_kai_labs_vary_0_keeps_the_files_values_in_a_workshop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAI_LABS_LEARNER", "ann")
    monkeypatch.setenv(sc.VARY_ENV, "0")
    s = sc.get("wrong-targetport")
    assert s.vary_key == 0 and s.service == "web" and s.namespace == "ann-lab-wrong-targetport"


def test_render_puts_course_text_into_the_scenarios_values(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "kubectl logs deploy/web -n lab-wrong-targetport  # listens on 3000, not 8080"
    assert sc.get("wrong-targetport").render(text) == text
    s = sc._scenario("wrong-targetport", 4)
    v = s.values
    assert s.render(text) == f"kubectl logs deploy/{v['web']} -n lab-wrong-targetport  # listens on {v['3000']}, " \
        f"not {v['8080']}"
    monkeypatch.setenv("KAI_LABS_LEARNER", "ann")
    mine = sc.get("wrong-targetport")
    assert mine.render(text).startswith(f"kubectl logs deploy/{mine.values['web']} -n ann-lab-wrong-targetport")


@pytest.mark.parametrize("name", VARIED)
def test_every_alternative_is_valid_where_kubernetes_puts_it(name: str) -> None:
    """A name alternative becomes a Deployment/Service name (DNS-1035 label, the stricter of the two), a label
    value and, in named-port-mismatch, a container port name (IANA_SVC_NAME, at most 15 characters); a number
    becomes a port (1-65535). The project's validators carry upstream's (k8s.io/apimachinery
    pkg/util/validation/validation.go: IsDNS1035Label, IsValidLabelValue, IsValidPortName, IsValidPortNum)."""
    for tok, alts in sc._vary_table(sc.SCENARIO_DIR / name).items():
        for a in alts:
            if tok.isdigit():
                assert a.isdigit() and not validation.is_valid_port_num(int(a)), (tok, a)
            else:
                assert not validation.is_dns1035_label(a), (tok, a)
                assert not validation.is_valid_label_value(a), (tok, a)
                assert not validation.is_valid_port_name(a), (tok, a)


@pytest.mark.parametrize("k", KEYS)
def test_the_mystery_calls_its_app_the_same_whichever_break_runs(k: int) -> None:
    """Values drawn under the mystery's name: the app's name does not tell which break was picked."""
    m = sc.get("mystery")
    names = {v: sc._scenario(v, k, None, "mystery").values.get("web") for v in m.variants}
    assert len(set(names.values())) == 1 and None not in names.values(), names
