"""Manifests the test suites share: the chapter's `web` app (agnhost netexec on 8080) and Services in
front of it, written once here and varied by arguments instead of copied YAML."""

from __future__ import annotations

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.53"


def _meta(name: str, namespace: str | None) -> str:
    return f"{{name: {name}, namespace: {namespace}}}" if namespace else f"{{name: {name}}}"


def web_deployment(replicas: int = 2, *, name: str = "web", namespace: str | None = None, container: str = "web",
                   port_name: str | None = None, declare_port: bool = True, readiness: bool = False) -> str:
    """A Deployment of agnhost netexec serving HTTP on 8080, Pods labelled app=<name>."""
    port = f"{{name: {port_name}, containerPort: 8080}}" if port_name else "{containerPort: 8080}"
    lines = [
        "apiVersion: apps/v1",
        "kind: Deployment",
        f"metadata: {_meta(name, namespace)}",
        "spec:",
        f"  replicas: {replicas}",
        f"  selector: {{matchLabels: {{app: {name}}}}}",
        "  template:",
        f"    metadata: {{labels: {{app: {name}}}}}",
        "    spec:",
        "      containers:",
        f"      - name: {container}",
        f"        image: {AGNHOST}",
        '        args: ["netexec", "--http-port=8080"]',
    ]
    if declare_port:
        lines.append(f"        ports: [{port}]")
    if readiness:
        lines.append("        readinessProbe: {httpGet: {path: /, port: 8080}, periodSeconds: 1}")
    return "\n".join(lines) + "\n"


def service(name: str = "web", *, namespace: str | None = None, app: str = "web", port: int = 80,
            target_port: int | str = 8080, port_name: str | None = None, type_: str | None = None,
            cluster_ip: str | None = None, node_port: int | None = None) -> str:
    """A Service selecting app=<app>; one port."""
    fields = [f"name: {port_name}"] if port_name else []
    fields += [f"port: {port}", f"targetPort: {target_port}"]
    if node_port is not None:
        fields.append(f"nodePort: {node_port}")
    lines = ["apiVersion: v1", "kind: Service", f"metadata: {_meta(name, namespace)}", "spec:"]
    if type_:
        lines.append(f"  type: {type_}")
    if cluster_ip:
        lines.append(f"  clusterIP: {cluster_ip}")
    lines += [f"  selector: {{app: {app}}}", f"  ports: [{{{', '.join(fields)}}}]"]
    return "\n".join(lines) + "\n"


def documents(*docs: str) -> str:
    """One multi-document YAML stream."""
    return "---\n".join(docs)


# Nested YAML aliases: 419 bytes that expand to 9**9 strings (the 569-byte body is the same shape).
YAML_ALIAS_BOMB = """apiVersion: v1
kind: ConfigMap
metadata:
  name: lol
data:
  a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
  b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
  c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
  d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
  e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
  f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
  g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
  h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
  i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""
