"""R120: the pod-template-hash has Kubernetes' shape (pkg/controller/controller_utils.go ComputeHash:
FNV-32a, the decimal text of the hash safe-encoded by k8s.io/apimachinery/pkg/util/rand)."""

from __future__ import annotations

import re

from kai_labs.sim.controllers.deployment import fnv32a, safe_encode, template_hash

# The images of '0'-'9' under SafeEncodeString: alphanums[48 % 27] .. alphanums[57 % 27].
DIGIT_IMAGES = "456789bcdf"


def _template(image: str, label: str = "web") -> dict[str, object]:
    return {"metadata": {"labels": {"app": label}},
            "spec": {"containers": [{"name": "web", "image": image, "ports": [{"containerPort": 8080}]}]}}


def test_R120_fnv32a_is_gos_hash_fnv_new32a() -> None:
    # the FNV-1a reference values (offset basis for no input; "a" and "foobar" from the FNV test suite)
    assert fnv32a(b"") == 0x811C9DC5
    assert fnv32a(b"a") == 0xE40C292C
    assert fnv32a(b"foobar") == 0xBF9CF968


def test_R120_safe_encode_maps_each_digit_to_one_character() -> None:
    assert safe_encode("0123456789") == DIGIT_IMAGES
    assert safe_encode("1234567890") == "56789bcdf4"


def test_R120_pod_template_hash_uses_only_the_digits_images_and_is_8_to_10_long() -> None:
    seen: set[str] = set()
    for i in range(300):
        h = template_hash(_template(f"nginx:1.{i}", label=f"app{i % 7}"))
        assert re.fullmatch(r"[456789bcdf]{8,10}", h), h
        seen.update(h)
    # none of the letters the old hash showed (w t z j ...) can appear; every digit image does, in time
    assert seen == set(DIGIT_IMAGES)


def test_R120_pod_template_hash_is_stable_and_changes_with_the_template_and_collisions() -> None:
    t = _template("nginx:1.27")
    assert template_hash(t) == template_hash(_template("nginx:1.27"))
    assert template_hash(t) != template_hash(_template("nginx:1.28"))
    # a collision count (Deployment status.collisionCount) is hashed in as 8 little-endian bytes
    assert template_hash(t, 1) != template_hash(t)
    assert template_hash(t, 1) != template_hash(t, 2)
    assert re.fullmatch(r"[456789bcdf]{8,10}", template_hash(t, 1))
