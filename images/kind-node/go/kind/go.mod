// Wrapper module for the kind node image (images/kind-node): pins sigs.k8s.io/kind at
// v0.29.0, so scripts/controlplane-build.sh builds sigs.k8s.io/kind into the
// version-keyed cache. kind v0.29.0 is the release for Kubernetes 1.33; its base files (entrypoint, containerd config, kubelet unit) come from the same module.
module securevote.local/kind-node/kind

go 1.24.0

require sigs.k8s.io/kind v0.29.0

require (
	al.essio.dev/pkg/shellescape v1.5.1 // indirect
	github.com/BurntSushi/toml v1.4.0 // indirect
	github.com/evanphx/json-patch/v5 v5.6.0 // indirect
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/mattn/go-isatty v0.0.20 // indirect
	github.com/pelletier/go-toml v1.9.5 // indirect
	github.com/pkg/errors v0.9.1 // indirect
	github.com/spf13/cobra v1.8.0 // indirect
	github.com/spf13/pflag v1.0.5 // indirect
	golang.org/x/sys v0.6.0 // indirect
	sigs.k8s.io/yaml v1.4.0 // indirect
)
