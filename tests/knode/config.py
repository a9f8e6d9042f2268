"""Configuration files of the node's components, as plain data (written as JSON/TOML).

Addresses: the node, its pods and its Services use 198.18.0.0/15, the range set aside for network
test labs (RFC 2544), so nothing here can be mistaken for, or routed to, a real private network.
The node's bridge holds the node address; the API server, kubelet and kube-proxy bind to it, so
pods reach the control plane through the `kubernetes` Service like on any cluster.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

NODE_NAME = "krmfn-node"
BRIDGE = "mgk0"
NODE_IP = "198.18.0.1"
POD_CIDR = "198.18.0.0/24"
SERVICE_CIDR = "198.19.0.0/24"
API_SERVICE_IP = "198.19.0.1"
DNS_IP = "198.19.0.10"
CLUSTER_DOMAIN = "cluster.local"
API_PORT = 6443
KUBELET_PORT = 10250
PAUSE_IMAGE = "localhost/multigres-krmfn/pause:1"
PROVISIONER = "multigres-krmfn.test/local"
STORAGE_CLASS = "standard"


def kubeconfig(server: str, ca: Path, user: str, token: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "node", "cluster": {"server": server, "certificate-authority": str(ca)}}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": "node", "context": {"cluster": "node", "user": user, "namespace": "default"}}],
        "current-context": "node",
    }


def containerd_toml(work: Path, runc: str, nri_socket: Path | None = None) -> str:
    """containerd 2.x (config version 3). restrict_oom_score_adj: runc cannot write a negative
    oom_score_adj without CAP_SYS_RESOURCE, and every sandbox fails without it. runc's state
    directory is the node's own, so several containerds may run side by side (the three-node
    cluster), each then with its NRI socket at `nri_socket` (the default path is one per machine).
    The NetworkPolicy agent asks NRI for pod addresses (netpol.py)."""
    nri = f"\n  [plugins.'io.containerd.nri.v1.nri']\n    socket_path = '{nri_socket}'\n" if nri_socket else ""
    return f"""version = 3
root = "{work}/containerd/root"
state = "{work}/containerd/state"

[grpc]
  address = "{work}/run/containerd.sock"

[ttrpc]
  address = "{work}/run/containerd.sock.ttrpc"

[plugins]
  [plugins.'io.containerd.cri.v1.images']
    snapshotter = 'overlayfs'
    [plugins.'io.containerd.cri.v1.images'.pinned_images]
      sandbox = '{PAUSE_IMAGE}'

  [plugins.'io.containerd.cri.v1.runtime']
    restrict_oom_score_adj = true
    [plugins.'io.containerd.cri.v1.runtime'.containerd]
      default_runtime_name = 'runc'
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
        runtime_type = 'io.containerd.runc.v2'
        [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
          BinaryName = '{runc}'
          Root = '{work}/runc'
          SystemdCgroup = false
    [plugins.'io.containerd.cri.v1.runtime'.cni]
      bin_dirs = ['/usr/lib/cni']
      conf_dir = '{work}/cni/net.d'
{nri}
  [plugins.'io.containerd.grpc.v1.cri']
    stream_server_address = '127.0.0.1'
    stream_server_port = '0'
"""


def cni_conflist(work: Path, bridge: str = BRIDGE, subnet: str = POD_CIDR, gateway: str = NODE_IP,
                 range_start: str = "198.18.0.10") -> dict[str, Any]:
    """A bridge with host-local addresses; no masquerade (pods get no route off the machine)."""
    return {
        "cniVersion": "1.0.0", "name": "krmfn",
        "plugins": [
            {"type": "bridge", "bridge": bridge, "isGateway": True, "isDefaultGateway": True,
             "ipMasq": False, "hairpinMode": True,
             "ipam": {"type": "host-local", "dataDir": str(work / "cni" / "ipam"),
                      "ranges": [[{"subnet": subnet, "rangeStart": range_start, "gateway": gateway}]]}},
        ],
    }


def kubelet_config(work: Path, address: str = NODE_IP) -> dict[str, Any]:
    """This machine: cgroup v1 hybrid (failCgroupV1 false, cgroupfs), swap allowed, and a nofile
    hard limit of 20000 (maxOpenFiles). Low eviction thresholds: a test node, not a server."""
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
        "address": address, "port": KUBELET_PORT, "readOnlyPort": 0, "healthzBindAddress": "127.0.0.1",
        "authentication": {"anonymous": {"enabled": True}, "webhook": {"enabled": False}},
        "authorization": {"mode": "AlwaysAllow"},
        "containerRuntimeEndpoint": f"unix://{work}/run/containerd.sock",
        "cgroupDriver": "cgroupfs", "failCgroupV1": False, "failSwapOn": False, "maxOpenFiles": 20000,
        "clusterDNS": [DNS_IP], "clusterDomain": CLUSTER_DOMAIN, "resolvConf": str(work / "resolv.conf"),
        "staticPodPath": str(work / "manifests"),
        "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%", "nodefs.inodesFree": "1%",
                         "imagefs.available": "1%", "imagefs.inodesFree": "1%"},
        # The images were imported, never pulled: they must never be garbage-collected.
        "imageGCHighThresholdPercent": 100, "imageGCLowThresholdPercent": 99,
        "serializeImagePulls": False, "protectKernelDefaults": False,
        "rotateCertificates": False, "serverTLSBootstrap": False,
        "syncFrequency": "10s", "fileCheckFrequency": "5s",
        "volumeStatsAggPeriod": "0s",
    }


def kube_proxy_config(kubeconfig_path: Path, node_name: str = NODE_NAME, address: str = NODE_IP,
                      cluster_cidr: str = POD_CIDR) -> dict[str, Any]:
    """iptables mode; conntrack limits left alone (a test node must not retune the host)."""
    return {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1", "kind": "KubeProxyConfiguration",
        "mode": "iptables", "clusterCIDR": cluster_cidr, "hostnameOverride": node_name,
        "bindAddress": address, "healthzBindAddress": "127.0.0.1:10256", "metricsBindAddress": "127.0.0.1:10249",
        "clientConnection": {"kubeconfig": str(kubeconfig_path)},
        "conntrack": {"maxPerCore": 0, "min": 0, "tcpEstablishedTimeout": "0s", "tcpCloseWaitTimeout": "0s"},
        "nodePortAddresses": [f"{address}/32"],
    }
