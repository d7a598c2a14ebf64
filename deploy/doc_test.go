// Package deploy holds no Go code: its tests check the deployment files
// beside them (Kubernetes manifests, the compose file, the systemd unit)
// and the Dockerfile at the top of the repository, so that a change that
// breaks one of them fails CI rather than a user's first install.
package deploy
