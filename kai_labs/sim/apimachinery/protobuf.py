"""Decode Kubernetes protobuf request bodies (``application/vnd.kubernetes.protobuf``).

kubectl's typed clients (``kubectl create namespace|configmap|secret|deployment|service|
serviceaccount``, ``kubectl expose``, evictions, deletes with options ...) send request
bodies in the Kubernetes protobuf envelope instead of JSON.  :func:`decode` turns such a
body into the dict the equivalent JSON body would give, so the rest of the server never
sees protobuf.  Responses stay JSON (kubectl accepts JSON back).

Wire format, from the Kubernetes sources (kubernetes/kubernetes, ``staging/src/k8s.io``):

* ``apimachinery/pkg/runtime/serializer/protobuf/protobuf.go``: a body is the 4-byte magic
  ``k8s\\x00`` followed by a ``runtime.Unknown`` message.
* ``apimachinery/pkg/runtime/generated.proto``: ``Unknown`` = typeMeta (1: TypeMeta with
  apiVersion=1, kind=2), raw (2: the object's own message bytes), contentEncoding (3),
  contentType (4).
* The object messages: ``api/core/v1/generated.proto``, ``api/apps/v1/generated.proto``,
  ``api/discovery/v1/generated.proto``, ``api/policy/v1`` (Eviction), ``api/autoscaling/v1``
  (Scale), ``apimachinery/pkg/apis/meta/v1/generated.proto`` (ObjectMeta, LabelSelector,
  DeleteOptions, Time, MicroTime, Duration, Condition, ...),
  ``apimachinery/pkg/util/intstr/generated.proto`` (IntOrString: type=1, intVal=2,
  strVal=3) and ``apimachinery/pkg/api/resource/generated.proto`` (Quantity: string=1).
  Proto field names equal the JSON names; the numbers are transcribed in ``_SCHEMA`` below.

JSON-equivalence rules (how go-to-protobuf output maps back to the JSON form):

* Go *non-pointer* scalars are always written by the generated marshallers, even when zero,
  while their JSON tags are mostly ``omitempty``: a zero string/number/bool is therefore
  dropped, unless the field is marked ``?`` in the schema (Go pointer fields such as
  ``replicas`` or ``gracePeriodSeconds`` -- present means explicitly set -- and a few
  non-omitempty fields such as ``containerPort``), where it is kept.
* Non-pointer structs are always written (as empty messages): they decode to ``{}``, as in
  kubectl's JSON (``"resources": {}``, ``"strategy": {}``, ``"status": {}``).
* Embedded Go structs with ``json:",inline"`` are a message field in proto but are merged
  into the parent in JSON (``Probe.handler``, ``Volume.volumeSource``,
  ``EphemeralContainer.ephemeralContainerCommon``, ``...KeySelector.localObjectReference``):
  marked ``~`` in the schema.
* ``map<k,v>`` fields are repeated entries {key=1, value=2}; bytes become base64 strings;
  IntOrString becomes an int or a string; Quantity its string; Time an RFC 3339 string
  (seconds only, as Go's ``Time.Unmarshal`` drops the nanos; an empty message is the zero
  time and is omitted, like JSON ``null``); MicroTime RFC 3339 with 6 fractional digits;
  Duration Go's ``time.Duration.String()``.
* Unknown field numbers are skipped.  Malformed input raises :class:`ProtobufError`.
"""
from __future__ import annotations

import base64
import datetime as _dt
import json
from collections.abc import Iterator
from typing import Any, NamedTuple

__all__ = ["ProtobufError", "decode", "supported_kinds", "MAGIC", "MEDIA_TYPE"]

MAGIC = b"k8s\x00"
MEDIA_TYPE = "application/vnd.kubernetes.protobuf"
_MAX_DEPTH = 100

_U64 = 1 << 64


class ProtobufError(ValueError):
    """The body is not a decodable Kubernetes protobuf object (the server answers 400)."""


# --------------------------------------------------------------------------- schema
#
# One entry per message: "NUMBER NAME TYPE; ...".
#   TYPE: s string | b bool | i int32 | I int64 | y bytes (base64) | q Quantity
#         t Time | T MicroTime | d Duration | x IntOrString | F FieldsV1 (raw JSON)
#         or a message name from this table.
#   suffix "*": repeated; suffix "?": keep the zero value (Go pointer / non-omitempty).
#   prefix "map:": map<string, TYPE>.   NAME prefix "~": inlined into the parent (JSON inline).
_CONTAINER = (
    "1 name s?; 2 image s; 3 command s*; 4 args s*; 5 workingDir s; 6 ports ContainerPort*; "
    "7 env EnvVar*; 8 resources ResourceRequirements; 9 volumeMounts VolumeMount*; "
    "10 livenessProbe Probe; 11 readinessProbe Probe; 12 lifecycle Lifecycle; "
    "13 terminationMessagePath s; 14 imagePullPolicy s; 15 securityContext SecurityContext; "
    "16 stdin b; 17 stdinOnce b; 18 tty b; 19 envFrom EnvFromSource*; "
    "20 terminationMessagePolicy s; 21 volumeDevices VolumeDevice*; 22 startupProbe Probe; "
    "23 resizePolicy ContainerResizePolicy*; 24 restartPolicy s?; "
    "25 restartPolicyRules ContainerRestartRule*"
)
_KEY_SELECTOR = "1 ~localObjectReference LocalObjectReference; 2 key s?; 3 optional b?"
_ENV_SOURCE = "1 ~localObjectReference LocalObjectReference; 2 optional b?"
_PROJECTION = "1 ~localObjectReference LocalObjectReference; 2 items KeyToPath*; 4 optional b?"
_AFFINITY = ("1 requiredDuringSchedulingIgnoredDuringExecution PodAffinityTerm*; "
             "2 preferredDuringSchedulingIgnoredDuringExecution WeightedPodAffinityTerm*")
_CONDITION5 = "1 type s; 2 status s; 3 lastTransitionTime t; 4 reason s; 5 message s"

_SCHEMA: dict[str, str] = {
    # ---- meta/v1
    "ObjectMeta": (
        "1 name s; 2 generateName s; 3 namespace s; 4 selfLink s; 5 uid s; 6 resourceVersion s; "
        "7 generation I; 8 creationTimestamp t; 9 deletionTimestamp t; "
        "10 deletionGracePeriodSeconds I?; 11 labels map:s; 12 annotations map:s; "
        "13 ownerReferences OwnerReference*; 14 finalizers s*; 17 managedFields ManagedFieldsEntry*"
    ),
    "OwnerReference": ("1 kind s?; 3 name s?; 4 uid s?; 5 apiVersion s?; 6 controller b?; "
                       "7 blockOwnerDeletion b?"),
    "ManagedFieldsEntry": ("1 manager s; 2 operation s; 3 apiVersion s; 4 time t; 6 fieldsType s; "
                           "7 fieldsV1 F; 8 subresource s"),
    "LabelSelector": "1 matchLabels map:s; 2 matchExpressions LabelSelectorRequirement*",
    "LabelSelectorRequirement": "1 key s?; 2 operator s?; 3 values s*",
    "DeleteOptions": ("1 gracePeriodSeconds I?; 2 preconditions Preconditions; "
                      "3 orphanDependents b?; 4 propagationPolicy s?; 5 dryRun s*; "
                      "6 ignoreStoreReadErrorWithClusterBreakingPotential b?"),
    "Preconditions": "1 uid s?; 2 resourceVersion s?",
    "Condition": ("1 type s?; 2 status s?; 3 observedGeneration I; 4 lastTransitionTime t; "
                  "5 reason s?; 6 message s?"),
    # ---- core/v1: objects
    "Namespace": "1 metadata ObjectMeta; 2 spec NamespaceSpec; 3 status NamespaceStatus",
    "NamespaceSpec": "1 finalizers s*",
    "NamespaceStatus": "1 phase s; 2 conditions NamespaceCondition*",
    "NamespaceCondition": "1 type s; 2 status s; 4 lastTransitionTime t; 5 reason s; 6 message s",
    "ConfigMap": "1 metadata ObjectMeta; 2 data map:s; 3 binaryData map:y; 4 immutable b?",
    "Secret": "1 metadata ObjectMeta; 2 data map:y; 3 type s; 4 stringData map:s; 5 immutable b?",
    "ServiceAccount": ("1 metadata ObjectMeta; 2 secrets ObjectReference*; "
                       "3 imagePullSecrets LocalObjectReference*; 4 automountServiceAccountToken b?"),
    "ObjectReference": ("1 kind s; 2 namespace s; 3 name s; 4 uid s; 5 apiVersion s; "
                        "6 resourceVersion s; 7 fieldPath s"),
    "LocalObjectReference": "1 name s",
    "Binding": "1 metadata ObjectMeta; 2 target ObjectReference",
    "Service": "1 metadata ObjectMeta; 2 spec ServiceSpec; 3 status ServiceStatus",
    "ServiceSpec": (
        "1 ports ServicePort*; 2 selector map:s; 3 clusterIP s; 4 type s; 5 externalIPs s*; "
        "7 sessionAffinity s; 8 loadBalancerIP s; 9 loadBalancerSourceRanges s*; 10 externalName s; "
        "11 externalTrafficPolicy s; 12 healthCheckNodePort i; 13 publishNotReadyAddresses b; "
        "14 sessionAffinityConfig SessionAffinityConfig; 17 ipFamilyPolicy s?; 18 clusterIPs s*; "
        "19 ipFamilies s*; 20 allocateLoadBalancerNodePorts b?; 21 loadBalancerClass s?; "
        "22 internalTrafficPolicy s?; 23 trafficDistribution s?"
    ),
    "ServicePort": ("1 name s; 2 protocol s; 3 port i?; 4 targetPort x; 5 nodePort i; "
                    "6 appProtocol s?"),
    "SessionAffinityConfig": "1 clientIP ClientIPConfig",
    "ClientIPConfig": "1 timeoutSeconds i?",
    "ServiceStatus": "1 loadBalancer LoadBalancerStatus; 2 conditions Condition*",
    "LoadBalancerStatus": "1 ingress LoadBalancerIngress*",
    "LoadBalancerIngress": "1 ip s; 2 hostname s; 3 ipMode s?; 4 ports PortStatus*",
    "PortStatus": "1 port i?; 2 protocol s?; 3 error s?",
    "Endpoints": "1 metadata ObjectMeta; 2 subsets EndpointSubset*",
    "EndpointSubset": ("1 addresses EndpointAddress*; 2 notReadyAddresses EndpointAddress*; "
                       "3 ports EndpointPort*"),
    "EndpointAddress": "1 ip s?; 2 targetRef ObjectReference; 3 hostname s; 4 nodeName s?",
    "EndpointPort": "1 name s; 2 port i?; 3 protocol s; 4 appProtocol s?",
    "Event": (
        "1 metadata ObjectMeta; 2 involvedObject ObjectReference; 3 reason s; 4 message s; "
        "5 source EventSource; 6 firstTimestamp t; 7 lastTimestamp t; 8 count i; 9 type s; "
        "10 eventTime T; 11 series EventSeries; 12 action s; 13 related ObjectReference; "
        "14 reportingComponent s; 15 reportingInstance s"
    ),
    "EventSource": "1 component s; 2 host s",
    "EventSeries": "1 count i; 2 lastObservedTime T",
    "Node": "1 metadata ObjectMeta; 2 spec NodeSpec; 3 status NodeStatus",
    "NodeSpec": ("1 podCIDR s; 2 externalID s; 3 providerID s; 4 unschedulable b; 5 taints Taint*; "
                 "7 podCIDRs s*"),
    "Taint": "1 key s?; 2 value s; 3 effect s?; 4 timeAdded t",
    "NodeStatus": (
        "1 capacity map:q; 2 allocatable map:q; 3 phase s; 4 conditions NodeCondition*; "
        "5 addresses NodeAddress*; 6 daemonEndpoints NodeDaemonEndpoints; "
        "7 nodeInfo NodeSystemInfo; 8 images ContainerImage*; 9 volumesInUse s*; "
        "10 volumesAttached AttachedVolume*; 12 runtimeHandlers NodeRuntimeHandler*; "
        "13 features NodeFeatures; 14 declaredFeatures s*"
    ),
    "NodeCondition": ("1 type s?; 2 status s?; 3 lastHeartbeatTime t; 4 lastTransitionTime t; "
                      "5 reason s; 6 message s"),
    "NodeAddress": "1 type s?; 2 address s?",
    "NodeDaemonEndpoints": "1 kubeletEndpoint DaemonEndpoint",
    "DaemonEndpoint": "1 Port i?",
    "NodeSystemInfo": (
        "1 machineID s?; 2 systemUUID s?; 3 bootID s?; 4 kernelVersion s?; 5 osImage s?; "
        "6 containerRuntimeVersion s?; 7 kubeletVersion s?; 8 kubeProxyVersion s?; "
        "9 operatingSystem s?; 10 architecture s?; 11 swap NodeSwapStatus"
    ),
    "NodeSwapStatus": "1 capacity I?",
    "ContainerImage": "1 names s*; 2 sizeBytes I",
    "AttachedVolume": "1 name s?; 2 devicePath s?",
    "NodeRuntimeHandler": "1 name s; 2 features NodeRuntimeHandlerFeatures",
    "NodeRuntimeHandlerFeatures": "1 recursiveReadOnlyMounts b?; 2 userNamespaces b?",
    "NodeFeatures": "1 supplementalGroupsPolicy b?; 2 containerUlimits b?",
    "PersistentVolumeClaim": ("1 metadata ObjectMeta; 2 spec PersistentVolumeClaimSpec; "
                              "3 status PersistentVolumeClaimStatus"),
    "PersistentVolumeClaimSpec": (
        "1 accessModes s*; 2 resources VolumeResourceRequirements; 3 volumeName s; "
        "4 selector LabelSelector; 5 storageClassName s?; 6 volumeMode s?; "
        "7 dataSource TypedLocalObjectReference; 8 dataSourceRef TypedObjectReference; "
        "9 volumeAttributesClassName s?"
    ),
    "PersistentVolumeClaimStatus": (
        "1 phase s; 2 accessModes s*; 3 capacity map:q; 4 conditions PersistentVolumeClaimCondition*; "
        "5 allocatedResources map:q; 7 allocatedResourceStatuses map:s; "
        "8 currentVolumeAttributesClassName s?; 9 modifyVolumeStatus ModifyVolumeStatus"
    ),
    "PersistentVolumeClaimCondition": ("1 type s; 2 status s; 3 lastProbeTime t; "
                                       "4 lastTransitionTime t; 5 reason s; 6 message s"),
    "ModifyVolumeStatus": "1 targetVolumeAttributesClassName s; 2 status s?",
    "VolumeResourceRequirements": "1 limits map:q; 2 requests map:q",
    "TypedLocalObjectReference": "1 apiGroup s?; 2 kind s?; 3 name s?",
    "TypedObjectReference": "1 apiGroup s?; 2 kind s?; 3 name s?; 4 namespace s?",
    "PersistentVolumeClaimTemplate": "1 metadata ObjectMeta; 2 spec PersistentVolumeClaimSpec",
    "ReplicationController": ("1 metadata ObjectMeta; 2 spec ReplicationControllerSpec; "
                              "3 status ReplicationControllerStatus"),
    "ReplicationControllerSpec": ("1 replicas i?; 2 selector map:s; 3 template PodTemplateSpec; "
                                  "4 minReadySeconds i"),
    "ReplicationControllerStatus": (
        "1 replicas i?; 2 fullyLabeledReplicas i; 3 observedGeneration I; 4 readyReplicas i; "
        "5 availableReplicas i; 6 conditions ReplicationControllerCondition*"
    ),
    "ReplicationControllerCondition": _CONDITION5,
    "PodTemplate": "1 metadata ObjectMeta; 2 template PodTemplateSpec",
    "PodTemplateSpec": "1 metadata ObjectMeta; 2 spec PodSpec",
    # ---- core/v1: pods
    "Pod": "1 metadata ObjectMeta; 2 spec PodSpec; 3 status PodStatus",
    "PodSpec": (
        "1 volumes Volume*; 2 containers Container*; 3 restartPolicy s; "
        "4 terminationGracePeriodSeconds I?; 5 activeDeadlineSeconds I?; 6 dnsPolicy s; "
        "7 nodeSelector map:s; 8 serviceAccountName s; 9 serviceAccount s; 10 nodeName s; "
        "11 hostNetwork b; 12 hostPID b; 13 hostIPC b; 14 securityContext PodSecurityContext; "
        "15 imagePullSecrets LocalObjectReference*; 16 hostname s; 17 subdomain s; "
        "18 affinity Affinity; 19 schedulerName s; 20 initContainers Container*; "
        "21 automountServiceAccountToken b?; 22 tolerations Toleration*; 23 hostAliases HostAlias*; "
        "24 priorityClassName s; 25 priority i?; 26 dnsConfig PodDNSConfig; "
        "27 shareProcessNamespace b?; 28 readinessGates PodReadinessGate*; 29 runtimeClassName s?; "
        "30 enableServiceLinks b?; 31 preemptionPolicy s?; 32 overhead map:q; "
        "33 topologySpreadConstraints TopologySpreadConstraint*; "
        "34 ephemeralContainers EphemeralContainer*; 35 setHostnameAsFQDN b?; 36 os PodOS; "
        "37 hostUsers b?; 38 schedulingGates PodSchedulingGate*; 39 resourceClaims PodResourceClaim*; "
        "40 resources ResourceRequirements; 41 hostnameOverride s?; 42 workloadRef WorkloadReference"
    ),
    "PodOS": "1 name s?",
    "PodSchedulingGate": "1 name s?",
    "PodResourceClaim": "1 name s?; 3 resourceClaimName s?; 4 resourceClaimTemplateName s?",
    "WorkloadReference": "1 name s; 2 podGroup s; 3 podGroupReplicaKey s",
    "PodReadinessGate": "1 conditionType s?",
    "HostAlias": "1 ip s?; 2 hostnames s*",
    "PodDNSConfig": "1 nameservers s*; 2 searches s*; 3 options PodDNSConfigOption*",
    "PodDNSConfigOption": "1 name s; 2 value s?",
    "TopologySpreadConstraint": (
        "1 maxSkew i?; 2 topologyKey s?; 3 whenUnsatisfiable s?; 4 labelSelector LabelSelector; "
        "5 minDomains i?; 6 nodeAffinityPolicy s?; 7 nodeTaintsPolicy s?; 8 matchLabelKeys s*"
    ),
    "Toleration": "1 key s; 2 operator s; 3 value s; 4 effect s; 5 tolerationSeconds I?",
    "PodSecurityContext": (
        "1 seLinuxOptions SELinuxOptions; 2 runAsUser I?; 3 runAsNonRoot b?; 4 supplementalGroups I*; "
        "5 fsGroup I?; 6 runAsGroup I?; 7 sysctls Sysctl*; 8 windowsOptions WindowsSecurityContextOptions; "
        "9 fsGroupChangePolicy s?; 10 seccompProfile SeccompProfile; 11 appArmorProfile AppArmorProfile; "
        "12 supplementalGroupsPolicy s?; 13 seLinuxChangePolicy s?"
    ),
    "SecurityContext": (
        "1 capabilities Capabilities; 2 privileged b?; 3 seLinuxOptions SELinuxOptions; 4 runAsUser I?; "
        "5 runAsNonRoot b?; 6 readOnlyRootFilesystem b?; 7 allowPrivilegeEscalation b?; 8 runAsGroup I?; "
        "9 procMount s?; 10 windowsOptions WindowsSecurityContextOptions; "
        "11 seccompProfile SeccompProfile; 12 appArmorProfile AppArmorProfile; 13 ulimits Ulimit*"
    ),
    "SELinuxOptions": "1 user s; 2 role s; 3 type s; 4 level s",
    "Sysctl": "1 name s?; 2 value s?",
    "WindowsSecurityContextOptions": ("1 gmsaCredentialSpecName s?; 2 gmsaCredentialSpec s?; "
                                      "3 runAsUserName s?; 4 hostProcess b?"),
    "SeccompProfile": "1 type s?; 2 localhostProfile s?",
    "AppArmorProfile": "1 type s?; 2 localhostProfile s?",
    "Capabilities": "1 add s*; 2 drop s*",
    "Ulimit": "1 name s?; 2 hard I?; 3 soft I?",
    "Affinity": ("1 nodeAffinity NodeAffinity; 2 podAffinity PodAffinity; "
                 "3 podAntiAffinity PodAntiAffinity"),
    "NodeAffinity": ("1 requiredDuringSchedulingIgnoredDuringExecution NodeSelector; "
                     "2 preferredDuringSchedulingIgnoredDuringExecution PreferredSchedulingTerm*"),
    "NodeSelector": "1 nodeSelectorTerms NodeSelectorTerm*",
    "NodeSelectorTerm": ("1 matchExpressions NodeSelectorRequirement*; "
                         "2 matchFields NodeSelectorRequirement*"),
    "NodeSelectorRequirement": "1 key s?; 2 operator s?; 3 values s*",
    "PreferredSchedulingTerm": "1 weight i?; 2 preference NodeSelectorTerm",
    "PodAffinity": _AFFINITY,
    "PodAntiAffinity": _AFFINITY,
    "PodAffinityTerm": ("1 labelSelector LabelSelector; 2 namespaces s*; 3 topologyKey s?; "
                        "4 namespaceSelector LabelSelector; 5 matchLabelKeys s*; "
                        "6 mismatchLabelKeys s*"),
    "WeightedPodAffinityTerm": "1 weight i?; 2 podAffinityTerm PodAffinityTerm",
    "Container": _CONTAINER,
    "EphemeralContainerCommon": _CONTAINER,
    "EphemeralContainer": ("1 ~ephemeralContainerCommon EphemeralContainerCommon; "
                           "2 targetContainerName s"),
    "ContainerPort": "1 name s; 2 hostPort i; 3 containerPort i?; 4 protocol s; 5 hostIP s",
    "ContainerResizePolicy": "1 resourceName s?; 2 restartPolicy s?",
    "ContainerRestartRule": "1 action s; 2 exitCodes ContainerRestartRuleOnExitCodes",
    "ContainerRestartRuleOnExitCodes": "1 operator s; 2 values i*",
    "EnvVar": "1 name s?; 2 value s; 3 valueFrom EnvVarSource",
    "EnvVarSource": (
        "1 fieldRef ObjectFieldSelector; 2 resourceFieldRef ResourceFieldSelector; "
        "3 configMapKeyRef ConfigMapKeySelector; 4 secretKeyRef SecretKeySelector; "
        "5 fileKeyRef FileKeySelector"
    ),
    "ObjectFieldSelector": "1 apiVersion s; 2 fieldPath s?",
    "ResourceFieldSelector": "1 containerName s; 2 resource s?; 3 divisor q",
    "ConfigMapKeySelector": _KEY_SELECTOR,
    "SecretKeySelector": _KEY_SELECTOR,
    "FileKeySelector": "1 volumeName s?; 2 path s?; 3 key s?; 4 optional b?",
    "EnvFromSource": "1 prefix s; 2 configMapRef ConfigMapEnvSource; 3 secretRef SecretEnvSource",
    "ConfigMapEnvSource": _ENV_SOURCE,
    "SecretEnvSource": _ENV_SOURCE,
    "ResourceRequirements": "1 limits map:q; 2 requests map:q; 3 claims ResourceClaim*",
    "ResourceClaim": "1 name s?; 2 request s",
    "VolumeMount": ("1 name s?; 2 readOnly b; 3 mountPath s?; 4 subPath s; 5 mountPropagation s?; "
                    "6 subPathExpr s; 7 recursiveReadOnly s?"),
    "VolumeDevice": "1 name s?; 2 devicePath s?",
    "Probe": (
        "1 ~handler ProbeHandler; 2 initialDelaySeconds i; 3 timeoutSeconds i; 4 periodSeconds i; "
        "5 successThreshold i; 6 failureThreshold i; 7 terminationGracePeriodSeconds I?"
    ),
    "ProbeHandler": ("1 exec ExecAction; 2 httpGet HTTPGetAction; 3 tcpSocket TCPSocketAction; "
                     "4 grpc GRPCAction"),
    "ExecAction": "1 command s*",
    "HTTPGetAction": "1 path s; 2 port x; 3 host s; 4 scheme s; 5 httpHeaders HTTPHeader*",
    "HTTPHeader": "1 name s?; 2 value s?",
    "TCPSocketAction": "1 port x; 2 host s",
    "GRPCAction": "1 port i?; 2 service s?",
    "Lifecycle": "1 postStart LifecycleHandler; 2 preStop LifecycleHandler; 3 stopSignal s?",
    "LifecycleHandler": ("1 exec ExecAction; 2 httpGet HTTPGetAction; 3 tcpSocket TCPSocketAction; "
                         "4 sleep SleepAction"),
    "SleepAction": "1 seconds I?",
    "PodStatus": (
        "1 phase s; 2 conditions PodCondition*; 3 message s; 4 reason s; 5 hostIP s; 6 podIP s; "
        "7 startTime t; 8 containerStatuses ContainerStatus*; 9 qosClass s; "
        "10 initContainerStatuses ContainerStatus*; 11 nominatedNodeName s; 12 podIPs PodIP*; "
        "13 ephemeralContainerStatuses ContainerStatus*; 14 resize s; "
        "15 resourceClaimStatuses PodResourceClaimStatus*; 16 hostIPs HostIP*; "
        "17 observedGeneration I; 19 allocatedResources map:q; 20 resources ResourceRequirements"
    ),
    "PodCondition": ("1 type s?; 2 status s?; 3 lastProbeTime t; 4 lastTransitionTime t; "
                     "5 reason s; 6 message s; 7 observedGeneration I"),
    "PodIP": "1 ip s?",
    "HostIP": "1 ip s?",
    "PodResourceClaimStatus": "1 name s?; 2 resourceClaimName s?",
    "ContainerStatus": (
        "1 name s?; 2 state ContainerState; 3 lastState ContainerState; 4 ready b?; "
        "5 restartCount i?; 6 image s?; 7 imageID s?; 8 containerID s; 9 started b?; "
        "10 allocatedResources map:q; 11 resources ResourceRequirements; "
        "12 volumeMounts VolumeMountStatus*; 13 user ContainerUser; "
        "14 allocatedResourcesStatus ResourceStatus*; 15 stopSignal s?"
    ),
    "ContainerState": ("1 waiting ContainerStateWaiting; 2 running ContainerStateRunning; "
                       "3 terminated ContainerStateTerminated"),
    "ContainerStateWaiting": "1 reason s; 2 message s",
    "ContainerStateRunning": "1 startedAt t",
    "ContainerStateTerminated": ("1 exitCode i?; 2 signal i; 3 reason s; 4 message s; "
                                 "5 startedAt t; 6 finishedAt t; 7 containerID s"),
    "VolumeMountStatus": "1 name s?; 2 mountPath s?; 3 readOnly b; 4 recursiveReadOnly s?",
    "ContainerUser": "1 linux LinuxContainerUser",
    "LinuxContainerUser": "1 uid I?; 2 gid I?; 3 supplementalGroups I*",
    "ResourceStatus": "1 name s?; 2 resources ResourceHealth*",
    "ResourceHealth": "1 resourceID s?; 2 health s; 6 message s?",
    # ---- core/v1: volumes (the common sources; the in-tree cloud/legacy ones are skipped)
    "Volume": "1 name s?; 2 ~volumeSource VolumeSource",
    "VolumeSource": (
        "1 hostPath HostPathVolumeSource; 2 emptyDir EmptyDirVolumeSource; "
        "3 gcePersistentDisk GCEPersistentDiskVolumeSource; "
        "4 awsElasticBlockStore AWSElasticBlockStoreVolumeSource; 5 gitRepo GitRepoVolumeSource; "
        "6 secret SecretVolumeSource; 7 nfs NFSVolumeSource; "
        "10 persistentVolumeClaim PersistentVolumeClaimVolumeSource; "
        "16 downwardAPI DownwardAPIVolumeSource; 17 fc FCVolumeSource; "
        "19 configMap ConfigMapVolumeSource; 26 projected ProjectedVolumeSource; "
        "28 csi CSIVolumeSource; 29 ephemeral EphemeralVolumeSource; 30 image ImageVolumeSource"
    ),
    "HostPathVolumeSource": "1 path s?; 2 type s?",
    "EmptyDirVolumeSource": "1 medium s; 2 sizeLimit q",
    "GCEPersistentDiskVolumeSource": "1 pdName s?; 2 fsType s; 3 partition i; 4 readOnly b",
    "AWSElasticBlockStoreVolumeSource": "1 volumeID s?; 2 fsType s; 3 partition i; 4 readOnly b",
    "GitRepoVolumeSource": "1 repository s?; 2 revision s; 3 directory s",
    "SecretVolumeSource": "1 secretName s; 2 items KeyToPath*; 3 defaultMode i?; 4 optional b?",
    "ConfigMapVolumeSource": ("1 ~localObjectReference LocalObjectReference; 2 items KeyToPath*; "
                              "3 defaultMode i?; 4 optional b?"),
    "KeyToPath": "1 key s?; 2 path s?; 3 mode i?",
    "NFSVolumeSource": "1 server s?; 2 path s?; 3 readOnly b",
    "PersistentVolumeClaimVolumeSource": "1 claimName s?; 2 readOnly b",
    "DownwardAPIVolumeSource": "1 items DownwardAPIVolumeFile*; 2 defaultMode i?",
    "DownwardAPIVolumeFile": ("1 path s?; 2 fieldRef ObjectFieldSelector; "
                              "3 resourceFieldRef ResourceFieldSelector; 4 mode i?"),
    "FCVolumeSource": "1 targetWWNs s*; 2 lun i?; 3 fsType s; 4 readOnly b; 5 wwids s*",
    "ProjectedVolumeSource": "1 sources VolumeProjection*; 2 defaultMode i?",
    "VolumeProjection": (
        "1 secret SecretProjection; 2 downwardAPI DownwardAPIProjection; "
        "3 configMap ConfigMapProjection; 4 serviceAccountToken ServiceAccountTokenProjection; "
        "5 clusterTrustBundle ClusterTrustBundleProjection; 6 podCertificate PodCertificateProjection"
    ),
    "SecretProjection": _PROJECTION,
    "ConfigMapProjection": _PROJECTION,
    "DownwardAPIProjection": "1 items DownwardAPIVolumeFile*",
    "ServiceAccountTokenProjection": "1 audience s; 2 expirationSeconds I?; 3 path s?",
    "ClusterTrustBundleProjection": ("1 name s?; 2 signerName s?; 3 labelSelector LabelSelector; "
                                     "4 path s?; 5 optional b?"),
    "PodCertificateProjection": (
        "1 signerName s; 2 keyType s; 3 maxExpirationSeconds i?; 4 credentialBundlePath s; "
        "5 keyPath s; 6 certificateChainPath s; 7 userAnnotations map:s"
    ),
    "CSIVolumeSource": ("1 driver s?; 2 readOnly b?; 3 fsType s?; 4 volumeAttributes map:s; "
                        "5 nodePublishSecretRef LocalObjectReference"),
    "EphemeralVolumeSource": "1 volumeClaimTemplate PersistentVolumeClaimTemplate",
    "ImageVolumeSource": "1 reference s; 2 pullPolicy s",
    # ---- apps/v1
    "Deployment": "1 metadata ObjectMeta; 2 spec DeploymentSpec; 3 status DeploymentStatus",
    "DeploymentSpec": (
        "1 replicas i?; 2 selector LabelSelector; 3 template PodTemplateSpec; "
        "4 strategy DeploymentStrategy; 5 minReadySeconds i; 6 revisionHistoryLimit i?; "
        "7 paused b; 9 progressDeadlineSeconds i?; 10 podReplacementPolicy s?"
    ),
    "DeploymentStrategy": "1 type s; 2 rollingUpdate RollingUpdateDeployment",
    "RollingUpdateDeployment": "1 maxUnavailable x; 2 maxSurge x",
    "DeploymentStatus": (
        "1 observedGeneration I; 2 replicas i; 3 updatedReplicas i; 4 availableReplicas i; "
        "5 unavailableReplicas i; 6 conditions DeploymentCondition*; 7 readyReplicas i; "
        "8 collisionCount i?; 9 terminatingReplicas i?"
    ),
    "DeploymentCondition": ("1 type s?; 2 status s?; 4 reason s; 5 message s; "
                            "6 lastUpdateTime t; 7 lastTransitionTime t"),
    "ReplicaSet": "1 metadata ObjectMeta; 2 spec ReplicaSetSpec; 3 status ReplicaSetStatus",
    "ReplicaSetSpec": ("1 replicas i?; 2 selector LabelSelector; 3 template PodTemplateSpec; "
                       "4 minReadySeconds i"),
    "ReplicaSetStatus": (
        "1 replicas i?; 2 fullyLabeledReplicas i; 3 observedGeneration I; 4 readyReplicas i; "
        "5 availableReplicas i; 6 conditions ReplicaSetCondition*; 7 terminatingReplicas i?"
    ),
    "ReplicaSetCondition": _CONDITION5,
    "StatefulSet": "1 metadata ObjectMeta; 2 spec StatefulSetSpec; 3 status StatefulSetStatus",
    "StatefulSetSpec": (
        "1 replicas i?; 2 selector LabelSelector; 3 template PodTemplateSpec; "
        "4 volumeClaimTemplates PersistentVolumeClaim*; 5 serviceName s; 6 podManagementPolicy s; "
        "7 updateStrategy StatefulSetUpdateStrategy; 8 revisionHistoryLimit i?; 9 minReadySeconds i; "
        "10 persistentVolumeClaimRetentionPolicy StatefulSetPersistentVolumeClaimRetentionPolicy; "
        "11 ordinals StatefulSetOrdinals"
    ),
    "StatefulSetUpdateStrategy": "1 type s; 2 rollingUpdate RollingUpdateStatefulSetStrategy",
    "RollingUpdateStatefulSetStrategy": "1 partition i?; 2 maxUnavailable x",
    "StatefulSetPersistentVolumeClaimRetentionPolicy": "1 whenDeleted s; 2 whenScaled s",
    "StatefulSetOrdinals": "1 start i",
    "StatefulSetStatus": (
        "1 observedGeneration I; 2 replicas i?; 3 readyReplicas i; 4 currentReplicas i; "
        "5 updatedReplicas i; 6 currentRevision s; 7 updateRevision s; 9 collisionCount i?; "
        "10 conditions StatefulSetCondition*; 11 availableReplicas i"
    ),
    "StatefulSetCondition": _CONDITION5,
    "DaemonSet": "1 metadata ObjectMeta; 2 spec DaemonSetSpec; 3 status DaemonSetStatus",
    "DaemonSetSpec": (
        "1 selector LabelSelector; 2 template PodTemplateSpec; 3 updateStrategy DaemonSetUpdateStrategy; "
        "4 minReadySeconds i; 6 revisionHistoryLimit i?"
    ),
    "DaemonSetUpdateStrategy": "1 type s; 2 rollingUpdate RollingUpdateDaemonSet",
    "RollingUpdateDaemonSet": "1 maxUnavailable x; 2 maxSurge x",
    "DaemonSetStatus": (
        "1 currentNumberScheduled i?; 2 numberMisscheduled i?; 3 desiredNumberScheduled i?; "
        "4 numberReady i?; 5 observedGeneration I; 6 updatedNumberScheduled i; 7 numberAvailable i; "
        "8 numberUnavailable i; 9 collisionCount i?; 10 conditions DaemonSetCondition*"
    ),
    "DaemonSetCondition": _CONDITION5,
    # ---- discovery/v1
    "discovery.EndpointSlice": ("1 metadata ObjectMeta; 2 endpoints discovery.Endpoint*; "
                                "3 ports discovery.EndpointPort*; 4 addressType s?"),
    "discovery.Endpoint": (
        "1 addresses s*; 2 conditions discovery.EndpointConditions; 3 hostname s?; "
        "4 targetRef ObjectReference; 5 deprecatedTopology map:s; 6 nodeName s?; 7 zone s?; "
        "8 hints discovery.EndpointHints"
    ),
    "discovery.EndpointConditions": "1 ready b?; 2 serving b?; 3 terminating b?",
    "discovery.EndpointHints": "1 forZones discovery.ForZone*; 2 forNodes discovery.ForNode*",
    "discovery.ForZone": "1 name s?",
    "discovery.ForNode": "1 name s?",
    "discovery.EndpointPort": "1 name s?; 2 protocol s?; 3 port i?; 4 appProtocol s?",
    # ---- autoscaling/v1, policy/v1
    "autoscaling.Scale": ("1 metadata ObjectMeta; 2 spec autoscaling.ScaleSpec; "
                          "3 status autoscaling.ScaleStatus"),
    "autoscaling.ScaleSpec": "1 replicas i",
    "autoscaling.ScaleStatus": "1 replicas i?; 2 selector s",
    "policy.Eviction": "1 metadata ObjectMeta; 2 deleteOptions DeleteOptions",
}

# (apiVersion, kind) -> top-level message.
_KINDS: dict[tuple[str, str], str] = {
    **{("v1", k): k for k in (
        "Namespace", "ConfigMap", "Secret", "ServiceAccount", "Service", "Pod", "PodTemplate",
        "ReplicationController", "Endpoints", "Event", "Binding", "Node", "PersistentVolumeClaim")},
    **{("apps/v1", k): k for k in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet")},
    ("discovery.k8s.io/v1", "EndpointSlice"): "discovery.EndpointSlice",
    ("autoscaling/v1", "Scale"): "autoscaling.Scale",
    ("policy/v1", "Eviction"): "policy.Eviction",
    ("policy/v1beta1", "Eviction"): "policy.Eviction",
}
# meta/v1 option kinds are registered in every group version (typed clients stamp the
# group version of the resource they talk to), so they are accepted under any apiVersion.
_ANY_VERSION_KINDS = {"DeleteOptions": "DeleteOptions"}

_SCALARS = frozenset("sbiIyqtTdxF")
_PLAIN = frozenset("sbiIy")  # scalars written by Go even when zero


class _Field(NamedTuple):
    name: str
    kind: str        # scalar code or message name
    repeated: bool
    is_map: bool
    keep_zero: bool
    inline: bool


def _parse_schema(src: dict[str, str]) -> dict[str, dict[int, _Field]]:
    out: dict[str, dict[int, _Field]] = {}
    for msg, text in src.items():
        fields: dict[int, _Field] = {}
        for part in text.split(";"):
            num_s, name, ty = part.split()
            num = int(num_s)
            inline = name.startswith("~")
            name = name.lstrip("~")
            keep = ty.endswith("?")
            ty = ty.rstrip("?")
            rep = ty.endswith("*")
            ty = ty.rstrip("*")
            is_map = ty.startswith("map:")
            if is_map:
                ty = ty[4:]
            if num in fields:
                raise AssertionError(f"duplicate field {num} in {msg}")
            fields[num] = _Field(name, ty, rep, is_map, keep, inline)
        out[msg] = fields
    for msg, fields in out.items():  # every referenced message is defined
        for f in fields.values():
            if f.kind not in _SCALARS and f.kind not in out:
                raise AssertionError(f"{msg}.{f.name}: unknown type {f.kind}")
    return out


_MESSAGES = _parse_schema(_SCHEMA)


def supported_kinds() -> list[tuple[str, str]]:
    """The (apiVersion, kind) pairs :func:`decode` understands (plus DeleteOptions anywhere)."""
    return sorted(_KINDS)


# --------------------------------------------------------------------------- wire level

def _varint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if pos >= end:
            raise ProtobufError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result & (_U64 - 1), pos
        shift += 7
        if shift >= 70:
            raise ProtobufError("varint longer than 10 bytes")


def _fields(buf: bytes, start: int, end: int) -> Iterator[tuple[int, int, int, int, int]]:
    """Yield (field number, wire type, varint value, payload start, payload end)."""
    pos = start
    while pos < end:
        key, pos = _varint(buf, pos, end)
        num, wt = key >> 3, key & 7
        if num == 0 or num >= 1 << 29:
            raise ProtobufError(f"invalid field number {num}")
        if wt == 0:
            v, pos = _varint(buf, pos, end)
            yield num, 0, v, pos, pos
        elif wt == 2:
            ln, pos = _varint(buf, pos, end)
            if ln > end - pos:
                raise ProtobufError(f"field {num}: length {ln} runs past the end of the message")
            yield num, 2, 0, pos, pos + ln
            pos += ln
        elif wt == 1 or wt == 5:
            size = 8 if wt == 1 else 4
            if size > end - pos:
                raise ProtobufError(f"field {num}: truncated fixed{size * 8} value")
            yield num, wt, int.from_bytes(buf[pos:pos + size], "little"), pos, pos + size
            pos += size
        else:
            raise ProtobufError(f"field {num}: unsupported wire type {wt}")


def _int32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >= 1 << 31 else v


def _int64(v: int) -> int:
    return v - _U64 if v >= 1 << 63 else v


def _text(buf: bytes, s: int, e: int) -> str:
    return bytes(buf[s:e]).decode("utf-8", errors="replace")


# --------------------------------------------------------------------------- special types

def _seconds_nanos(buf: bytes, s: int, e: int) -> tuple[int, int]:
    seconds = nanos = 0
    for num, wt, v, _, _ in _fields(buf, s, e):
        if num == 1 and wt == 0:
            seconds = _int64(v)
        elif num == 2 and wt == 0:
            nanos = _int32(v)
        elif num in (1, 2):
            raise ProtobufError(f"timestamp field {num}: wire type {wt}, expected varint")
    return seconds, nanos


_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)


def _utc(seconds: int, micros: int = 0) -> _dt.datetime:
    try:
        return _EPOCH + _dt.timedelta(seconds=seconds, microseconds=micros)
    except OverflowError:
        raise ProtobufError(f"timestamp {seconds}s out of range") from None


def _time(buf: bytes, s: int, e: int) -> str | None:
    if s == e:  # Go's zero time marshals to an empty message; JSON says null
        return None
    seconds, _ = _seconds_nanos(buf, s, e)  # meta/v1 Time.Unmarshal drops the nanos
    return _utc(seconds).strftime("%Y-%m-%dT%H:%M:%SZ")


def _micro_time(buf: bytes, s: int, e: int) -> str | None:
    if s == e:
        return None
    seconds, nanos = _seconds_nanos(buf, s, e)
    extra, nanos = divmod(nanos, 1_000_000_000)
    return _utc(seconds + extra, nanos // 1000).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _go_duration(ns: int) -> str:
    """Go's time.Duration.String()."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    u = abs(ns)

    def frac(value: int, unit: int, digits: int) -> str:
        whole, rem = divmod(value, unit)
        return str(whole) + (("." + f"{rem:0{digits}d}".rstrip("0")) if rem else "")

    if u < 1_000:
        return f"{sign}{u}ns"
    if u < 1_000_000:
        return f"{sign}{frac(u, 1_000, 3)}\u00b5s"
    if u < 1_000_000_000:
        return f"{sign}{frac(u, 1_000_000, 6)}ms"
    secs, rem = divmod(u, 1_000_000_000)
    out = str(secs % 60) + (("." + f"{rem:09d}".rstrip("0")) if rem else "") + "s"
    mins = secs // 60
    if mins:
        out = f"{mins % 60}m{out}"
        if mins // 60:
            out = f"{mins // 60}h{out}"
    return sign + out


def _duration(buf: bytes, s: int, e: int) -> str:
    ns = 0
    for num, wt, v, _, _ in _fields(buf, s, e):
        if num == 1:
            if wt != 0:
                raise ProtobufError(f"Duration.duration: wire type {wt}, expected varint")
            ns = _int64(v)
    return _go_duration(ns)


def _quantity(buf: bytes, s: int, e: int) -> str:
    value = ""
    for num, wt, _, ps, pe in _fields(buf, s, e):
        if num == 1:
            if wt != 2:
                raise ProtobufError(f"Quantity.string: wire type {wt}, expected bytes")
            value = _text(buf, ps, pe)
    return value or "0"


def _int_or_string(buf: bytes, s: int, e: int) -> int | str:
    typ, ival, sval = 0, 0, ""
    for num, wt, v, ps, pe in _fields(buf, s, e):
        if num in (1, 2) and wt != 0:
            raise ProtobufError(f"IntOrString field {num}: wire type {wt}, expected varint")
        if num == 3 and wt != 2:
            raise ProtobufError(f"IntOrString.strVal: wire type {wt}, expected bytes")
        if num == 1:
            typ = _int64(v)
        elif num == 2:
            ival = _int32(v)
        elif num == 3:
            sval = _text(buf, ps, pe)
    if typ == 0:
        return ival
    if typ == 1:
        return sval
    raise ProtobufError(f"IntOrString: invalid type {typ}")


def _fields_v1(buf: bytes, s: int, e: int) -> Any:
    raw = b""
    for num, wt, _, ps, pe in _fields(buf, s, e):
        if num == 1:
            if wt != 2:
                raise ProtobufError(f"FieldsV1.Raw: wire type {wt}, expected bytes")
            raw = bytes(buf[ps:pe])
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        raise ProtobufError("FieldsV1: raw bytes are not JSON") from None


_LENGTH_DELIMITED_SCALARS = {"s": None, "y": None, "q": _quantity, "t": _time, "T": _micro_time,
                             "d": _duration, "x": _int_or_string, "F": _fields_v1}
_ZERO: dict[str, Any] = {"s": "", "b": False, "i": 0, "I": 0, "y": "", "q": "0", "x": 0, "F": {},
                         "d": "0s", "t": None, "T": None}


# --------------------------------------------------------------------------- messages

def _value(kind: str, wt: int, v: int, buf: bytes, s: int, e: int, where: str, depth: int) -> Any:
    """Decode one (non-packed) value of ``kind``."""
    if kind in ("b", "i", "I"):
        if wt != 0:
            raise ProtobufError(f"{where}: wire type {wt}, expected varint")
        if kind == "b":
            return v != 0
        return _int32(v) if kind == "i" else _int64(v)
    if wt != 2:
        raise ProtobufError(f"{where}: wire type {wt}, expected length-delimited")
    if kind == "s":
        return _text(buf, s, e)
    if kind == "y":
        return base64.b64encode(bytes(buf[s:e])).decode("ascii")
    special = _LENGTH_DELIMITED_SCALARS.get(kind)
    if special is not None:
        return special(buf, s, e)
    out: dict[str, Any] = {}
    _message(kind, buf, s, e, out, depth + 1)
    return out


def _map_entry(f: _Field, buf: bytes, s: int, e: int, where: str, depth: int) -> tuple[str, Any]:
    key = ""
    value: Any = _ZERO.get(f.kind)
    have_value = False
    for num, wt, v, ps, pe in _fields(buf, s, e):
        if num == 1:
            if wt != 2:
                raise ProtobufError(f"{where}: map key wire type {wt}, expected bytes")
            key = _text(buf, ps, pe)
        elif num == 2:
            value = _value(f.kind, wt, v, buf, ps, pe, where, depth)
            have_value = True
    if not have_value and f.kind not in _SCALARS:
        value = {}
    return key, value


def _is_zero(value: Any) -> bool:
    return value is None or value == "" or value is False or (type(value) is int and value == 0)


def _message(msg: str, buf: bytes, start: int, end: int, out: dict[str, Any], depth: int) -> None:
    if depth > _MAX_DEPTH:
        raise ProtobufError("message nesting too deep")
    schema = _MESSAGES[msg]
    for num, wt, v, s, e in _fields(buf, start, end):
        f = schema.get(num)
        if f is None:
            continue  # unknown field: skipped
        where = f"{msg}.{f.name}"
        if f.is_map:
            if wt != 2:
                raise ProtobufError(f"{where}: wire type {wt}, expected a map entry")
            k, val = _map_entry(f, buf, s, e, where, depth)
            m = out.get(f.name)
            if not isinstance(m, dict):
                m = out[f.name] = {}
            m[k] = val
        elif f.repeated:
            lst = out.get(f.name)
            if not isinstance(lst, list):
                lst = out[f.name] = []
            if wt == 2 and f.kind in ("b", "i", "I"):  # packed numbers
                pos = s
                while pos < e:
                    pv, pos = _varint(buf, pos, e)
                    lst.append(_value(f.kind, 0, pv, buf, 0, 0, where, depth))
            else:
                lst.append(_value(f.kind, wt, v, buf, s, e, where, depth))
        elif f.kind not in _SCALARS:  # singular message
            if wt != 2:
                raise ProtobufError(f"{where}: wire type {wt}, expected a message")
            if f.inline:
                _message(f.kind, buf, s, e, out, depth + 1)
            else:
                sub = out.get(f.name)
                if not isinstance(sub, dict):
                    sub = out[f.name] = {}
                _message(f.kind, buf, s, e, sub, depth + 1)
        else:
            val = _value(f.kind, wt, v, buf, s, e, where, depth)
            # only plain scalars follow the omitempty rule; message-encoded values
            # (IntOrString, Quantity, Duration, FieldsV1) are present because they were set
            if val is None or (f.kind in _PLAIN and not f.keep_zero and _is_zero(val)):
                out.pop(f.name, None)
            else:
                out[f.name] = val


# --------------------------------------------------------------------------- envelope

def _unknown(body: bytes) -> tuple[str, str, bytes, str, str]:
    api_version = kind = encoding = content_type = ""
    raw = b""
    end = len(body)
    for num, wt, _, s, e in _fields(body, len(MAGIC), end):
        if num in (1, 2, 3, 4) and wt != 2:
            raise ProtobufError(f"runtime.Unknown field {num}: wire type {wt}, expected bytes")
        if num == 1:
            for tnum, twt, _, ts, te in _fields(body, s, e):
                if tnum in (1, 2) and twt != 2:
                    raise ProtobufError(f"TypeMeta field {tnum}: wire type {twt}, expected bytes")
                if tnum == 1:
                    api_version = _text(body, ts, te)
                elif tnum == 2:
                    kind = _text(body, ts, te)
        elif num == 2:
            raw = bytes(body[s:e])
        elif num == 3:
            encoding = _text(body, s, e)
        elif num == 4:
            content_type = _text(body, s, e)
    return api_version, kind, raw, encoding, content_type


def decode(body: bytes) -> dict[str, Any]:
    """Decode a Kubernetes protobuf body into the equivalent JSON-shaped dict.

    The result carries ``kind`` and ``apiVersion`` from the envelope, then the object's
    fields under their JSON names.  Raises :class:`ProtobufError` (a ``ValueError``) on a
    bad magic prefix, malformed wire data or an unsupported kind; never anything else.
    """
    if not isinstance(body, (bytes, bytearray, memoryview)):
        raise ProtobufError("protobuf body must be bytes")
    body = bytes(body)
    if not body.startswith(MAGIC):
        raise ProtobufError("not a Kubernetes protobuf object: missing the 'k8s\\x00' prefix")
    try:
        api_version, kind, raw, encoding, content_type = _unknown(body)
        if encoding:
            raise ProtobufError(f"unsupported contentEncoding {encoding!r}")
        if not kind:
            raise ProtobufError("protobuf envelope has no kind")
        head: dict[str, Any] = {"kind": kind, "apiVersion": api_version}
        if content_type and content_type.split(";")[0].strip() == "application/json":
            try:
                obj = json.loads(raw) if raw else {}
            except ValueError:
                raise ProtobufError("embedded JSON object is malformed") from None
            if not isinstance(obj, dict):
                raise ProtobufError("embedded JSON is not an object")
            return {**head, **{k: v for k, v in obj.items() if k not in head}}
        if content_type and content_type.split(";")[0].strip() != MEDIA_TYPE:
            raise ProtobufError(f"unsupported embedded contentType {content_type!r}")
        msg = _KINDS.get((api_version, kind)) or _ANY_VERSION_KINDS.get(kind)
        if msg is None:
            raise ProtobufError(f"protobuf decoding of {api_version}/{kind} is not supported; "
                                "send it as application/json")
        _message(msg, raw, 0, len(raw), head, 0)
        return head
    except ProtobufError:
        raise
    except (ValueError, OverflowError, RecursionError, IndexError) as exc:  # defensive
        raise ProtobufError(f"malformed protobuf body: {exc}") from None
