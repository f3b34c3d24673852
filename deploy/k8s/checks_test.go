package k8s_test

// The rules each workload, budget and Service is held to; each returns the
// problems it finds, so a fixture can show that a rule bites.

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"

	"github.com/seed-a80403e2/lifecycle/internal/config"
)

// workload is a Deployment's or a Job's pod template.
type workload struct {
	obj    any
	name   string
	labels map[string]string
	spec   corev1.PodSpec
}

func workloadsOf(objs []object) []workload {
	var out []workload
	for _, d := range ofType[*appsv1.Deployment](objs) {
		out = append(out, workload{d, d.Name, d.Spec.Template.Labels, d.Spec.Template.Spec})
	}
	for _, j := range ofType[*batchv1.Job](objs) {
		out = append(out, workload{j, j.Name, j.Spec.Template.Labels, j.Spec.Template.Spec})
	}
	return out
}

func kindOf(obj any) string {
	switch obj.(type) {
	case *appsv1.Deployment:
		return "Deployment"
	case *batchv1.Job:
		return "Job"
	}
	return fmt.Sprintf("%T", obj)
}

func metaOf(obj any) *struct{ Name, Namespace string } {
	m := &struct{ Name, Namespace string }{}
	switch o := obj.(type) {
	case *appsv1.Deployment:
		m.Name, m.Namespace = o.Name, o.Namespace
	case *batchv1.Job:
		m.Name, m.Namespace = o.Name, o.Namespace
	case *policyv1.PodDisruptionBudget:
		m.Name, m.Namespace = o.Name, o.Namespace
	case *corev1.Service:
		m.Name, m.Namespace = o.Name, o.Namespace
	case *corev1.ConfigMap:
		m.Name, m.Namespace = o.Name, o.Namespace
	case *corev1.Secret:
		m.Name, m.Namespace = o.Name, o.Namespace
	}
	return m
}

// command is the lifecycle subcommand a container runs: the image's
// entrypoint is the binary, the first argument the command.
func command(c corev1.Container) string {
	if len(c.Args) == 0 {
		return ""
	}
	return c.Args[0]
}

// listenSetting is the setting that holds the address each serving command
// listens on; its probes must hit that port.
var listenSetting = map[string]string{
	config.CmdWorker: "LIFECYCLE_WORKER_HTTP_ADDR",
	config.CmdAPI:    "LIFECYCLE_HTTP_ADDR",
}

// runtimeEnv are variables the Go runtime reads, not the settings table.
var runtimeEnv = map[string]bool{"GOMEMLIMIT": true}

func checkWorkloads(objs []object) []error {
	var errs []error
	for _, w := range workloadsOf(objs) {
		where := fmt.Sprintf("%s %s (%s)", kindOf(w.obj), w.name, whereOf(objs, w.obj))
		bad := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("%s: %s", where, fmt.Sprintf(format, args...)))
		}
		if d, ok := w.obj.(*appsv1.Deployment); ok {
			if d.Spec.Replicas == nil || *d.Spec.Replicas < 2 {
				bad("replicas: want at least 2, so one pod can be drained")
			}
			if sel := d.Spec.Selector; sel == nil || len(sel.MatchExpressions) > 0 || !subset(sel.MatchLabels, w.labels) {
				bad("spec.selector.matchLabels must be a subset of the pod template's labels")
			}
		}
		s := w.spec
		if s.AutomountServiceAccountToken == nil || *s.AutomountServiceAccountToken {
			bad("automountServiceAccountToken: want false (the binary never calls the Kubernetes API)")
		}
		if s.EnableServiceLinks == nil || *s.EnableServiceLinks {
			bad("enableServiceLinks: want false, so Service variables (FOO_SERVICE_HOST, FOO_PORT) stay out of the settings' environment")
		}
		if len(s.InitContainers) > 0 {
			bad("init containers are not checked; run lifecycle setup as its Job")
		}
		if len(s.Containers) == 0 {
			bad("no containers")
		}
		for _, c := range s.Containers {
			errs = append(errs, checkContainer(objs, where, w, c)...)
		}
	}
	return errs
}

func checkContainer(objs []object, where string, w workload, c corev1.Container) []error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: container %s: %s", where, c.Name, fmt.Sprintf(format, args...)))
	}
	tag, err := lifecycleImageTag(c.Image)
	if err != nil {
		bad("%v", err)
	}
	if len(c.Command) > 0 {
		bad("command %v overrides the image's entrypoint (/lifecycle); give the subcommand in args", c.Command)
	}
	cmd := command(c)
	if !slices.Contains([]string{config.CmdWorker, config.CmdAPI, config.CmdSetup, config.CmdDeployment}, cmd) {
		bad("args %v: want a lifecycle command first (worker, api, setup, deployment)", c.Args)
	}

	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, hasReq := c.Resources.Requests[r]
		lim, hasLim := c.Resources.Limits[r]
		if !hasReq || req.IsZero() {
			bad("no resources.requests.%s", r)
		}
		if !hasLim || lim.IsZero() {
			bad("no resources.limits.%s", r)
		}
		if hasReq && hasLim && req.Cmp(lim) > 0 {
			bad("resources.requests.%s %s is above its limit %s", r, req.String(), lim.String())
		}
	}

	errs = append(errs, checkSecurity(where, w.spec.SecurityContext, c)...)

	if len(c.EnvFrom) > 0 {
		bad("envFrom hides which settings the container gets; name each variable under env")
	}
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		if _, dup := env[e.Name]; dup {
			bad("env %s is set twice", e.Name)
		}
		env[e.Name] = e
		errs = append(errs, checkEnv(objs, where, c.Name, cmd, e)...)
	}
	if lim, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
		if e, ok := env["GOMEMLIMIT"]; ok {
			n, err := parseGoBytes(e.Value)
			switch {
			case err != nil:
				bad("env GOMEMLIMIT %q: %v", e.Value, err)
			case n >= lim.Value():
				bad("env GOMEMLIMIT %s is not below the memory limit %s", e.Value, lim.String())
			}
		}
	}

	if _, ok := w.obj.(*appsv1.Deployment); ok {
		errs = append(errs, checkProbes(where, c, env)...)
		if cmd == config.CmdWorker {
			id := env["LIFECYCLE_BUILD_ID"].Value
			if id == "" {
				bad("env LIFECYCLE_BUILD_ID: set it to the image tag, so the build id is visible where the image is")
			} else if id != tag {
				bad("env LIFECYCLE_BUILD_ID %q is not the image tag %q", id, tag)
			}
			if v := w.labels["app.kubernetes.io/version"]; v != id {
				bad("pod label app.kubernetes.io/version %q is not the build id %q (it keeps two builds' Deployments apart)", v, id)
			}
		}
	}
	return errs
}

// lifecycleImageTag checks the image is the project's, with a tag that is
// not latest, and returns the tag.
func lifecycleImageTag(image string) (string, error) {
	ref := image
	if i := strings.Index(ref, "@"); i >= 0 {
		ref = ref[:i]
	}
	slash := strings.LastIndex(ref, "/")
	name, tag, hasTag := strings.Cut(ref[slash+1:], ":")
	switch {
	case name != "lifecycle":
		return "", fmt.Errorf("image %q: not the lifecycle image", image)
	case !hasTag || tag == "":
		return "", fmt.Errorf("image %q: no tag; tag each build (its build id)", image)
	case tag == "latest":
		return tag, fmt.Errorf("image %q: tag latest moves under running journeys; use the build id", image)
	}
	return tag, nil
}

func checkSecurity(where string, pod *corev1.PodSecurityContext, c corev1.Container) []error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: container %s: %s", where, c.Name, fmt.Sprintf(format, args...)))
	}
	sc := c.SecurityContext
	if sc == nil {
		sc = &corev1.SecurityContext{}
	}
	nonRoot, uid := sc.RunAsNonRoot, sc.RunAsUser
	if pod != nil {
		if nonRoot == nil {
			nonRoot = pod.RunAsNonRoot
		}
		if uid == nil {
			uid = pod.RunAsUser
		}
	}
	if nonRoot == nil || !*nonRoot || uid == nil || *uid == 0 {
		bad("runs as root or may: want runAsNonRoot true and runAsUser 65532 (the image's nonroot user)")
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		bad("readOnlyRootFilesystem: want true (the binary writes nothing to disk with DATABASE_URL set)")
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		bad("allowPrivilegeEscalation: want false")
	}
	if sc.Privileged != nil && *sc.Privileged {
		bad("privileged")
	}
	if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0 {
		bad("capabilities.drop: want [ALL] and nothing added")
	}
	return errs
}

// checkEnv: the name is a setting the container's command reads, and a
// reference names a ConfigMap or Secret key that deploy/k8s holds (the
// Secrets as examples/secrets.yaml shows them).
func checkEnv(objs []object, where, container, cmd string, e corev1.EnvVar) []error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: container %s: env %s%s", where, container, e.Name, fmt.Sprintf(format, args...)))
	}
	if !runtimeEnv[e.Name] {
		i := slices.IndexFunc(config.Settings, func(s config.Setting) bool { return s.Env == e.Name })
		switch {
		case i < 0:
			bad(" is not a setting of the binary (internal/config.Settings)")
		case !config.Settings[i].UsedBy(cmd):
			bad(": lifecycle %s does not read it", cmd)
		}
	}
	if e.ValueFrom == nil {
		return errs
	}
	switch ref := e.ValueFrom; {
	case ref.ConfigMapKeyRef != nil:
		found := false
		for _, cm := range ofType[*corev1.ConfigMap](objs) {
			if cm.Name == ref.ConfigMapKeyRef.Name {
				found = true
				if _, ok := cm.Data[ref.ConfigMapKeyRef.Key]; !ok {
					bad(": ConfigMap %s has no key %s", cm.Name, ref.ConfigMapKeyRef.Key)
				}
			}
		}
		if !found {
			bad(": no ConfigMap %s in deploy/k8s", ref.ConfigMapKeyRef.Name)
		}
	case ref.SecretKeyRef != nil:
		found := false
		for _, s := range ofType[*corev1.Secret](objs) {
			if s.Name == ref.SecretKeyRef.Name {
				found = true
				_, inData := s.Data[ref.SecretKeyRef.Key]
				_, inString := s.StringData[ref.SecretKeyRef.Key]
				if !inData && !inString {
					bad(": Secret %s has no key %s", s.Name, ref.SecretKeyRef.Key)
				}
			}
		}
		if !found {
			bad(": no Secret %s in deploy/k8s (examples/secrets.yaml documents each)", ref.SecretKeyRef.Name)
		}
	default:
		bad(": valueFrom other than a ConfigMap or Secret key")
	}
	return errs
}

// checkProbes: liveness on /healthz, readiness on /readyz (and a startup
// probe, if any, on /healthz), each on a declared port that is the port the
// command listens on, and that address reachable from the kubelet.
func checkProbes(where string, c corev1.Container, env map[string]corev1.EnvVar) []error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: container %s: %s", where, c.Name, fmt.Sprintf(format, args...)))
	}
	setting, serves := listenSetting[command(c)]
	if !serves {
		bad("a Deployment of lifecycle %s: it serves no /healthz or /readyz", command(c))
		return errs
	}
	listenPort := int32(0)
	addr := env[setting]
	switch host, port, err := net.SplitHostPort(addr.Value); {
	case addr.Value == "":
		bad("env %s: set it to 0.0.0.0:<port> (its default listens on 127.0.0.1, out of a probe's reach)", setting)
	case err != nil:
		bad("env %s %q is not host:port", setting, addr.Value)
	case host == "localhost" || net.ParseIP(host) != nil && net.ParseIP(host).IsLoopback():
		bad("env %s %q: a probe cannot reach a loopback address", setting, addr.Value)
	default:
		n, err := strconv.Atoi(port)
		if err != nil {
			bad("env %s %q has no numeric port", setting, addr.Value)
		}
		listenPort = int32(n)
	}
	probes := []struct {
		name  string
		probe *corev1.Probe
		path  string
		need  bool
	}{
		{"livenessProbe", c.LivenessProbe, "/healthz", true},
		{"readinessProbe", c.ReadinessProbe, "/readyz", true},
		{"startupProbe", c.StartupProbe, "/healthz", false},
	}
	for _, p := range probes {
		if p.probe == nil {
			if p.need {
				bad("no %s (want GET %s)", p.name, p.path)
			}
			continue
		}
		g := p.probe.HTTPGet
		if g == nil {
			bad("%s: want httpGet %s", p.name, p.path)
			continue
		}
		if g.Path != p.path {
			bad("%s: path %q, want %s", p.name, g.Path, p.path)
		}
		port, ok := containerPort(c, g.Port.String())
		switch {
		case !ok:
			bad("%s: port %s is not a port the container declares", p.name, g.Port.String())
		case listenPort != 0 && port != listenPort:
			bad("%s: port %d, but %s listens on %d", p.name, port, setting, listenPort)
		}
	}
	return errs
}

// containerPort resolves a port given by number or by name.
func containerPort(c corev1.Container, port string) (int32, bool) {
	for _, p := range c.Ports {
		if p.Name == port || strconv.Itoa(int(p.ContainerPort)) == port {
			return p.ContainerPort, true
		}
	}
	return 0, false
}

func checkDisruptionBudgets(objs []object) []error {
	var errs []error
	deployments := ofType[*appsv1.Deployment](objs)
	for _, pdb := range ofType[*policyv1.PodDisruptionBudget](objs) {
		where := fmt.Sprintf("PodDisruptionBudget %s (%s)", pdb.Name, whereOf(objs, pdb))
		sel := pdb.Spec.Selector
		if sel == nil || len(sel.MatchLabels) == 0 || len(sel.MatchExpressions) > 0 {
			errs = append(errs, fmt.Errorf("%s: want a selector of matchLabels only", where))
			continue
		}
		replicas := int32(0)
		for _, d := range deployments {
			if subset(sel.MatchLabels, d.Spec.Template.Labels) && d.Spec.Replicas != nil {
				replicas += *d.Spec.Replicas
			}
		}
		switch min, max := pdb.Spec.MinAvailable, pdb.Spec.MaxUnavailable; {
		case replicas == 0:
			errs = append(errs, fmt.Errorf("%s: selects no Deployment's pods (%v)", where, sel.MatchLabels))
		case min == nil && max == nil:
			errs = append(errs, fmt.Errorf("%s: neither minAvailable nor maxUnavailable", where))
		case min != nil && min.IntValue() >= int(replicas):
			errs = append(errs, fmt.Errorf("%s: minAvailable %s of %d replicas blocks every node drain", where, min.String(), replicas))
		case max != nil && max.IntValue() < 1 && !strings.HasSuffix(max.String(), "%"):
			errs = append(errs, fmt.Errorf("%s: maxUnavailable %s blocks every node drain", where, max.String()))
		}
	}
	// Every Deployment has a budget.
	for _, d := range deployments {
		covered := slices.ContainsFunc(ofType[*policyv1.PodDisruptionBudget](objs), func(p *policyv1.PodDisruptionBudget) bool {
			return p.Spec.Selector != nil && len(p.Spec.Selector.MatchLabels) > 0 && subset(p.Spec.Selector.MatchLabels, d.Spec.Template.Labels)
		})
		if !covered {
			errs = append(errs, fmt.Errorf("Deployment %s (%s): no PodDisruptionBudget selects its pods", d.Name, whereOf(objs, d)))
		}
	}
	return errs
}

// checkServices: a Service selects the API's pods and no others, on a port
// the API container declares.
func checkServices(objs []object) []error {
	var errs []error
	for _, svc := range ofType[*corev1.Service](objs) {
		where := fmt.Sprintf("Service %s (%s)", svc.Name, whereOf(objs, svc))
		if len(svc.Spec.Selector) == 0 {
			errs = append(errs, fmt.Errorf("%s: no selector", where))
			continue
		}
		var api []*appsv1.Deployment
		for _, d := range ofType[*appsv1.Deployment](objs) {
			if !subset(svc.Spec.Selector, d.Spec.Template.Labels) {
				continue
			}
			for _, c := range d.Spec.Template.Spec.Containers {
				if command(c) != config.CmdAPI {
					errs = append(errs, fmt.Errorf("%s: selects the pods of Deployment %s, which runs lifecycle %s", where, d.Name, command(c)))
				}
			}
			api = append(api, d)
		}
		if len(api) == 0 {
			errs = append(errs, fmt.Errorf("%s: selects no Deployment's pods (%v)", where, svc.Spec.Selector))
			continue
		}
		for _, p := range svc.Spec.Ports {
			for _, d := range api {
				for _, c := range d.Spec.Template.Spec.Containers {
					if _, ok := containerPort(c, p.TargetPort.String()); !ok {
						errs = append(errs, fmt.Errorf("%s: targetPort %s is not a port of Deployment %s's container %s", where, p.TargetPort.String(), d.Name, c.Name))
					}
				}
			}
		}
	}
	return errs
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

// parseGoBytes reads a GOMEMLIMIT value: a number of bytes with an optional
// B, KiB, MiB, GiB or TiB suffix.
func parseGoBytes(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, errors.New("want a positive number of bytes, e.g. 1800MiB")
	}
	return n * mult, nil
}
