// Wrapper module for the kind node image (images/kind-node): pins
// github.com/cloudnativelabs/kube-router/v2 at v2.1.0, so
// scripts/controlplane-build.sh builds its command into the version-keyed
// cache. The node runs only its network policy controller (iptables + ipset):
// kindnetd's policy engine needs nftables' queue, which this kernel lacks, and
// v2.1.0 is the newest release this machine's Go proxy serves.
module securevote.local/kind-node/kube-router

go 1.22

require github.com/cloudnativelabs/kube-router/v2 v2.1.0
