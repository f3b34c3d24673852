// Package k8s_test checks the Kubernetes manifests of deploy/k8s in make
// test: every document decodes strictly into its Kubernetes type (a misspelt
// field is an error, not a field the API server drops), and the workloads
// keep what production relies on: probes on the ports the binary listens on,
// resources, a pinned image, no root, and only settings the binary reads.
package k8s_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"
)

// object is one decoded document and where it came from.
type object struct {
	where string // file (document n), for messages
	obj   any    // *appsv1.Deployment, *batchv1.Job, ...
}

// kinds are the types the manifests may hold, by "apiVersion kind".
var kinds = map[string]func() any{
	"apps/v1 Deployment":            func() any { return new(appsv1.Deployment) },
	"batch/v1 Job":                  func() any { return new(batchv1.Job) },
	"policy/v1 PodDisruptionBudget": func() any { return new(policyv1.PodDisruptionBudget) },
	"v1 Service":                    func() any { return new(corev1.Service) },
	"v1 ConfigMap":                  func() any { return new(corev1.ConfigMap) },
	"v1 Secret":                     func() any { return new(corev1.Secret) },
}

// loadDir decodes every YAML document under dir, testdata excepted (the
// fixtures are broken on purpose).
func loadDir(dir string) ([]object, []error) {
	var objs []object
	var errs []error
	walkErr := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "testdata" {
			return filepath.SkipDir
		}
		if d.IsDir() || (filepath.Ext(path) != ".yaml" && filepath.Ext(path) != ".yml") {
			return nil
		}
		o, e := loadFile(path)
		objs = append(objs, o...)
		errs = append(errs, e...)
		return nil
	})
	if walkErr != nil {
		errs = append(errs, walkErr)
	}
	return objs, errs
}

// loadFile decodes each document of one file.
func loadFile(path string) ([]object, []error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, []error{err}
	}
	var objs []object
	var errs []error
	for i, doc := range splitDocuments(data) {
		where := fmt.Sprintf("%s (document %d)", filepath.ToSlash(path), i+1)
		obj, err := decode(doc)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", where, err))
			continue
		}
		objs = append(objs, object{where, obj})
	}
	return objs, errs
}

// splitDocuments cuts a file at its "---" lines and drops documents that
// hold only comments.
func splitDocuments(data []byte) [][]byte {
	var docs [][]byte
	var cur []string
	flush := func() {
		for _, line := range cur {
			if t := strings.TrimSpace(line); t != "" && !strings.HasPrefix(t, "#") {
				docs = append(docs, []byte(strings.Join(cur, "\n")))
				break
			}
		}
		cur = nil
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.TrimRight(line, " \t\r") == "---" {
			flush()
			continue
		}
		cur = append(cur, line)
	}
	flush()
	return docs
}

// decode reads apiVersion and kind, then the whole document strictly into
// that type: an unknown or duplicated field is an error.
func decode(doc []byte) (any, error) {
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := yaml.Unmarshal(doc, &head); err != nil {
		return nil, err
	}
	newObj, ok := kinds[head.APIVersion+" "+head.Kind]
	if !ok {
		return nil, fmt.Errorf("apiVersion %q kind %q is not a kind this check reads (add it to kinds)", head.APIVersion, head.Kind)
	}
	obj := newObj()
	if err := yaml.UnmarshalStrict(doc, obj); err != nil {
		return nil, err
	}
	return obj, nil
}

// ofType lists the objects of one type.
func ofType[T any](objs []object) []T {
	var out []T
	for _, o := range objs {
		if t, ok := o.obj.(T); ok {
			out = append(out, t)
		}
	}
	return out
}

func whereOf(objs []object, obj any) string {
	for _, o := range objs {
		if o.obj == obj {
			return o.where
		}
	}
	return "?"
}

// load reads deploy/k8s, failing the test on any document that does not
// decode.
func load(t *testing.T) []object {
	t.Helper()
	objs, errs := loadDir(".")
	for _, err := range errs {
		t.Error(err)
	}
	if len(objs) == 0 {
		t.Fatal("no manifests found under deploy/k8s")
	}
	return objs
}

func TestManifestsDecodeStrictly(t *testing.T) {
	objs := load(t)
	counts := map[string]int{}
	for _, o := range objs {
		counts[fmt.Sprintf("%T", o.obj)]++
	}
	for _, want := range []string{"*v1.Deployment", "*v1.Job", "*v1.PodDisruptionBudget", "*v1.Service", "*v1.ConfigMap", "*v1.Secret"} {
		if counts[want] == 0 {
			t.Errorf("no %s in deploy/k8s", want)
		}
	}
	for _, o := range objs {
		if ns := metaOf(o.obj).Namespace; ns != "" {
			t.Errorf("%s: metadata.namespace %q: the manifests are namespace-agnostic (kubectl apply -n)", o.where, ns)
		}
	}
}

func TestWorkloads(t *testing.T) {
	objs := load(t)
	for _, err := range checkWorkloads(objs) {
		t.Error(err)
	}
	// The commands production runs, each present once.
	runs := map[string]int{}
	for _, w := range workloadsOf(objs) {
		for _, c := range w.spec.Containers {
			runs[kindOf(w.obj)+" "+command(c)]++
		}
	}
	for _, want := range []string{"Deployment worker", "Deployment api", "Job setup"} {
		if runs[want] == 0 {
			t.Errorf("no %s in deploy/k8s (have %v)", want, runs)
		}
	}
}

func TestDisruptionBudgets(t *testing.T) {
	objs := load(t)
	for _, err := range checkDisruptionBudgets(objs) {
		t.Error(err)
	}
}

func TestAPIService(t *testing.T) {
	objs := load(t)
	services := ofType[*corev1.Service](objs)
	if len(services) == 0 {
		t.Fatal("no Service in deploy/k8s")
	}
	for _, err := range checkServices(objs) {
		t.Error(err)
	}
}

// TestStrictDecodingRefusesTypo: a misspelt field (readinesProbe) fails the
// decoding, naming the field, where a lenient decoder would drop it and
// leave the pod without its readiness probe.
func TestStrictDecodingRefusesTypo(t *testing.T) {
	objs, errs := loadFile("testdata/typo.yaml")
	if len(objs) != 0 || len(errs) != 1 {
		t.Fatalf("decoded %d objects with %d errors (%v), want one error", len(objs), len(errs), errs)
	}
	if msg := errs[0].Error(); !strings.Contains(msg, `unknown field "readinesProbe"`) {
		t.Errorf("error %q does not name the misspelt field", msg)
	}
	// The same document decodes leniently: the strictness is what catches it.
	data, err := os.ReadFile("testdata/typo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var d appsv1.Deployment
	if err := yaml.Unmarshal(data, &d); err != nil {
		t.Fatalf("lenient decoding: %v", err)
	}
	if d.Spec.Template.Spec.Containers[0].ReadinessProbe != nil {
		t.Error("the lenient decoding found a readiness probe in the fixture")
	}
}

// TestChecksCatchBadWorkload: a Deployment that decodes but breaks each
// rule is refused for each, so the checks above do bite.
func TestChecksCatchBadWorkload(t *testing.T) {
	objs, errs := loadFile("testdata/bad-workload.yaml")
	if len(errs) != 0 {
		t.Fatalf("the fixture should decode: %v", errs)
	}
	good, _ := loadDir(".")
	// The fixture's references resolve against the real ConfigMap and Secrets.
	for _, o := range good {
		switch o.obj.(type) {
		case *corev1.ConfigMap, *corev1.Secret:
			objs = append(objs, o)
		}
	}
	got := errors.Join(append(append(checkWorkloads(objs), checkDisruptionBudgets(objs)...), checkServices(objs)...)...)
	if got == nil {
		t.Fatal("no errors for the bad workload")
	}
	msg := got.Error()
	for _, want := range []string{
		`image "registry.example.com/lifecycle:latest": tag latest`,
		`image "busybox:1.36": not the lifecycle image`,
		`env LIFECYCLE_WORKER_ADDR is not a setting of the binary`,
		`env LIFECYCLE_API_KEYS: lifecycle worker does not read it`,
		`env LIFECYCLE_LINK_SECRET: Secret lifecycle-store has no key LINK_SECRET`,
		`env LOG_LEVEL: no ConfigMap lifecycle-config`,
		`envFrom`,
		`no resources.limits.memory`,
		`no resources.requests.cpu`,
		`runs as root`,
		`readOnlyRootFilesystem`,
		`allowPrivilegeEscalation`,
		`capabilities.drop`,
		`enableServiceLinks`,
		`livenessProbe: path "/health", want /healthz`,
		`no readinessProbe`,
		`LIFECYCLE_WORKER_HTTP_ADDR "127.0.0.1:9090": a probe cannot reach a loopback address`,
		`LIFECYCLE_BUILD_ID "1.0.1" is not the image tag "latest"`,
		`selects no Deployment's pods`,
		`minAvailable 2 of 2 replicas`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("no error containing %q; got:\n%s", want, msg)
		}
	}
}
