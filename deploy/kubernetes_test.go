package deploy

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// object is the part of a Kubernetes object these tests read.
type object struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name      string            `yaml:"name"`
		Namespace string            `yaml:"namespace"`
		Labels    map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	StringData map[string]string `yaml:"stringData"`
	Spec       struct {
		Replicas *int `yaml:"replicas"`
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Template struct {
			Metadata struct {
				Labels map[string]string `yaml:"labels"`
			} `yaml:"metadata"`
			Spec podSpec `yaml:"spec"`
		} `yaml:"template"`
		// Service
		Ports []struct {
			Name       string `yaml:"name"`
			Port       int    `yaml:"port"`
			TargetPort string `yaml:"targetPort"`
		} `yaml:"ports"`
		// PodDisruptionBudget
		MinAvailable *int `yaml:"minAvailable"`
	} `yaml:"spec"`
	AutomountServiceAccountToken *bool `yaml:"automountServiceAccountToken"`
}

type podSpec struct {
	ServiceAccountName           string `yaml:"serviceAccountName"`
	AutomountServiceAccountToken *bool  `yaml:"automountServiceAccountToken"`
	SecurityContext              struct {
		RunAsNonRoot *bool `yaml:"runAsNonRoot"`
		RunAsUser    *int  `yaml:"runAsUser"`
	} `yaml:"securityContext"`
	Containers []container `yaml:"containers"`
	Volumes    []struct {
		Name string `yaml:"name"`
	} `yaml:"volumes"`
}

type container struct {
	Name  string   `yaml:"name"`
	Image string   `yaml:"image"`
	Args  []string `yaml:"args"`
	Env   []struct {
		Name      string  `yaml:"name"`
		Value     *string `yaml:"value"`
		ValueFrom *struct {
			SecretKeyRef *struct {
				Name string `yaml:"name"`
				Key  string `yaml:"key"`
			} `yaml:"secretKeyRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	StartupProbe   *probe `yaml:"startupProbe"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
	LivenessProbe  *probe `yaml:"livenessProbe"`
	Resources      struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	SecurityContext struct {
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
		ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
		RunAsNonRoot             *bool `yaml:"runAsNonRoot"`
		Capabilities             struct {
			Drop []string `yaml:"drop"`
			Add  []string `yaml:"add"`
		} `yaml:"capabilities"`
	} `yaml:"securityContext"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
}

type probe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"`
	} `yaml:"httpGet"`
}

// decodeAll parses every YAML document in a file, strictly enough that a
// tab, a bad indent or a duplicate key fails.
func decodeAll[T any](t *testing.T, path string) []T {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []T
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var v T
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		t.Fatalf("%s: no YAML document", path)
	}
	return out
}

func isTrue(b *bool) bool { return b != nil && *b }

func TestKubernetesManifests(t *testing.T) {
	dir := "kubernetes"
	kust := decodeAll[struct {
		Kind      string   `yaml:"kind"`
		Namespace string   `yaml:"namespace"`
		Resources []string `yaml:"resources"`
		Images    []struct {
			Name string `yaml:"name"`
		} `yaml:"images"`
	}](t, filepath.Join(dir, "kustomization.yaml"))[0]
	if kust.Kind != "Kustomization" || kust.Namespace != "coffer" {
		t.Fatalf("kustomization: kind %q namespace %q", kust.Kind, kust.Namespace)
	}
	// Every manifest in the directory is listed, so none is forgotten.
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	for _, f := range files {
		if base := filepath.Base(f); base != "kustomization.yaml" && !slices.Contains(kust.Resources, base) {
			t.Errorf("%s is not in kustomization.yaml resources", base)
		}
	}

	byKind := map[string]object{}
	for _, res := range kust.Resources {
		for _, o := range decodeAll[object](t, filepath.Join(dir, res)) {
			if o.APIVersion == "" || o.Kind == "" || o.Metadata.Name == "" {
				t.Errorf("%s: object without apiVersion, kind or name: %+v", res, o.Metadata)
			}
			if o.Kind != "Namespace" && o.Metadata.Namespace != "coffer" {
				t.Errorf("%s %s: namespace %q, want coffer", o.Kind, o.Metadata.Name, o.Metadata.Namespace)
			}
			if _, dup := byKind[o.Kind]; dup {
				t.Errorf("two %s objects", o.Kind)
			}
			byKind[o.Kind] = o
		}
	}
	for _, kind := range []string{"Namespace", "ServiceAccount", "Secret", "Deployment", "Service", "PodDisruptionBudget"} {
		if _, ok := byKind[kind]; !ok {
			t.Errorf("no %s", kind)
		}
	}

	dep := byKind["Deployment"]
	if dep.Spec.Replicas == nil || *dep.Spec.Replicas != 2 {
		t.Errorf("replicas = %v, want 2", dep.Spec.Replicas)
	}
	if !subset(dep.Spec.Selector.MatchLabels, dep.Spec.Template.Metadata.Labels) || len(dep.Spec.Selector.MatchLabels) == 0 {
		t.Errorf("deployment selector %v does not select its pods %v", dep.Spec.Selector.MatchLabels, dep.Spec.Template.Metadata.Labels)
	}
	pod := dep.Spec.Template.Spec
	if pod.ServiceAccountName != byKind["ServiceAccount"].Metadata.Name || pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Errorf("pod: service account %q, automount %v; want the coffer account without a token", pod.ServiceAccountName, pod.AutomountServiceAccountToken)
	}
	if !isTrue(pod.SecurityContext.RunAsNonRoot) || pod.SecurityContext.RunAsUser == nil || *pod.SecurityContext.RunAsUser == 0 {
		t.Error("pod securityContext must run as a non-root uid")
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Containers))
	}
	c := pod.Containers[0]
	if len(c.Args) == 0 || c.Args[0] != "server" || !slices.ContainsFunc(c.Args, func(a string) bool { return strings.HasPrefix(a, "--data-dir=") }) {
		t.Errorf("args %q: want server --data-dir=...", c.Args)
	}
	sc := c.SecurityContext
	if !isTrue(sc.ReadOnlyRootFilesystem) || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		!isTrue(sc.RunAsNonRoot) || !slices.Equal(sc.Capabilities.Drop, []string{"ALL"}) || len(sc.Capabilities.Add) != 0 {
		t.Error("container securityContext: want readOnlyRootFilesystem, allowPrivilegeEscalation false, runAsNonRoot, capabilities drop [ALL] and none added")
	}
	apiPort := 0
	for _, p := range c.Ports {
		if p.Name == "api" {
			apiPort = p.ContainerPort
		}
	}
	if apiPort != 8420 {
		t.Errorf("api port = %d, want 8420", apiPort)
	}
	for name, p := range map[string]*probe{"startup": c.StartupProbe, "readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/healthz" || p.HTTPGet.Port != "api" {
			t.Errorf("%s probe: want httpGet /healthz on the api port", name)
		}
	}
	if c.Resources.Requests["cpu"] == "" || c.Resources.Requests["memory"] == "" || c.Resources.Limits["memory"] == "" {
		t.Errorf("resources %+v: want cpu and memory requests and a memory limit", c.Resources)
	}
	// The unseal key and database URL come from the Secret, never inline.
	secret := byKind["Secret"]
	for _, want := range []string{"COFFER_UNSEAL_KEY", "COFFER_DATABASE_URL"} {
		found := false
		for _, e := range c.Env {
			if e.Name != want {
				continue
			}
			found = true
			if e.Value != nil || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
				t.Errorf("%s is not taken from a Secret", want)
				continue
			}
			ref := e.ValueFrom.SecretKeyRef
			if ref.Name != secret.Metadata.Name {
				t.Errorf("%s from Secret %q, but the Secret is %q", want, ref.Name, secret.Metadata.Name)
			}
			if _, ok := secret.StringData[ref.Key]; !ok {
				t.Errorf("%s from key %q, which the Secret lacks", want, ref.Key)
			}
		}
		if !found {
			t.Errorf("no %s in the container's environment", want)
		}
	}
	for k, v := range secret.StringData {
		if !strings.Contains(v, "REPLACE") {
			t.Errorf("Secret key %s holds a value, not a placeholder", k)
		}
	}

	// A Service's selector is a plain map, unlike a Deployment's.
	svc := decodeAll[struct {
		Spec struct {
			Selector map[string]string `yaml:"selector"`
		} `yaml:"spec"`
	}](t, filepath.Join(dir, "service.yaml"))[0]
	if len(svc.Spec.Selector) == 0 || !subset(svc.Spec.Selector, dep.Spec.Template.Metadata.Labels) {
		t.Errorf("service selector %v does not select the pods", svc.Spec.Selector)
	}
	if p := byKind["Service"].Spec.Ports; len(p) == 0 || p[0].Port != 8420 || p[0].TargetPort != "api" {
		t.Errorf("service ports %+v: want 8420 to the api port", p)
	}
	pdb := byKind["PodDisruptionBudget"]
	if pdb.Spec.MinAvailable == nil || *pdb.Spec.MinAvailable < 1 || *pdb.Spec.MinAvailable >= *dep.Spec.Replicas ||
		!subset(pdb.Spec.Selector.MatchLabels, dep.Spec.Template.Metadata.Labels) {
		t.Errorf("PodDisruptionBudget: minAvailable %v, selector %v", pdb.Spec.MinAvailable, pdb.Spec.Selector.MatchLabels)
	}
	if len(kust.Images) == 0 || kust.Images[0].Name != c.Image[:strings.IndexByte(c.Image+":", ':')] {
		t.Errorf("kustomization images %+v do not name the container image %q", kust.Images, c.Image)
	}
}

// subset reports whether every label of sel is in labels.
func subset(sel, labels map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}
