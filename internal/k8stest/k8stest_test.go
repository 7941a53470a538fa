package k8stest

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

// wait bounds every wait of these tests: generous for a loaded machine,
// and never a measure of speed.
const wait = 90 * time.Second

func podSpec(selector map[string]string) corev1.PodSpec {
	return corev1.PodSpec{
		NodeSelector: selector,
		Containers: []corev1.Container{{
			Name:  "app",
			Image: "registry.invalid/app@sha256:" + strings.Repeat("0", 64),
		}},
	}
}

// TestStart reports how long the control plane took to start (not a
// pass/fail measure) and checks the kubeconfig it wrote works on its own.
func TestStart(t *testing.T) {
	cp := Start(t)
	t.Logf("control plane started in %v", cp.Started.Round(time.Millisecond))
	cfg, err := clientcmd.BuildConfigFromFlags("", cp.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	v, err := c.Discovery().ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	if v.GitVersion != "v1.37.2" {
		t.Errorf("server version %q, want v1.37.2", v.GitVersion)
	}
	node, err := c.CoreV1().Nodes().Get(ctx, cp.Node, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !nodeReady(node) {
		t.Errorf("node %s not Ready: %+v", cp.Node, node.Status.Conditions)
	}
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// TestDeploymentAvailable: a Deployment's controller makes a ReplicaSet
// and pods, the fake kubelet binds and runs them, and the Deployment
// becomes available with every replica ready.
func TestDeploymentAvailable(t *testing.T) {
	e := New(t)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	labels := map[string]string{"app": "web"}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Replicas: new(int32(3)),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       podSpec(map[string]string{"kubernetes.io/os": "linux"}),
			},
		},
	}
	d, err := e.Client.AppsV1().Deployments(e.Namespace).Create(ctx, d, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got *appsv1.Deployment
	err = Poll(ctx, func(ctx context.Context) (bool, error) {
		got, err = e.Client.AppsV1().Deployments(e.Namespace).Get(ctx, d.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		s := got.Status
		return s.ObservedGeneration >= got.Generation && s.ReadyReplicas == 3 && s.AvailableReplicas == 3 && s.UpdatedReplicas == 3, nil
	})
	if err != nil {
		t.Fatalf("deployment not available: %v (status %+v)", err, got.Status)
	}
	pods, err := e.Client.CoreV1().Pods(e.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if p.Spec.NodeName != e.Node || p.Status.Phase != corev1.PodRunning {
			t.Errorf("pod %s: node %q phase %s", p.Name, p.Spec.NodeName, p.Status.Phase)
		}
	}
}

// TestUnmatchedSelectorStaysPending: a pod whose node selector matches no
// node is marked unschedulable and never bound, while a pod created after
// it runs.
func TestUnmatchedSelectorStaysPending(t *testing.T) {
	e := New(t)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	pods := e.Client.CoreV1().Pods(e.Namespace)
	stuck := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "stuck"}, Spec: podSpec(map[string]string{"ferry.test/pool": "none"})}
	if _, err := pods.Create(ctx, stuck, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err := Poll(ctx, func(ctx context.Context) (bool, error) {
		p, err := pods.Get(ctx, "stuck", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("pod not marked unschedulable: %v", err)
	}
	ok := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "ok"}, Spec: podSpec(nil)}
	if _, err := pods.Create(ctx, ok, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := Poll(ctx, func(ctx context.Context) (bool, error) {
		p, err := pods.Get(ctx, "ok", metav1.GetOptions{})
		return err == nil && p.Status.Phase == corev1.PodRunning, err
	}); err != nil {
		t.Fatalf("pod ok not running: %v", err)
	}
	p, err := pods.Get(ctx, "stuck", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Spec.NodeName != "" || p.Status.Phase != corev1.PodPending {
		t.Errorf("pod with an unmatched node selector: node %q phase %s, want unbound and Pending", p.Spec.NodeName, p.Status.Phase)
	}
}

// TestJobCompletes: a Job's pod, which does not restart, succeeds, and the
// Job controller marks the Job complete (as Helm's hooks wait for).
func TestJobCompletes(t *testing.T) {
	e := New(t)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	spec := podSpec(nil)
	spec.RestartPolicy = corev1.RestartPolicyNever
	spec.InitContainers = []corev1.Container{{Name: "init", Image: spec.Containers[0].Image}}
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "migrate"},
		Spec:       batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: spec}},
	}
	if _, err := e.Client.BatchV1().Jobs(e.Namespace).Create(ctx, job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := Poll(ctx, func(ctx context.Context) (bool, error) {
		j, err := e.Client.BatchV1().Jobs(e.Namespace).Get(ctx, "migrate", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, c := range j.Status.Conditions {
			if c.Type == batchv1.JobComplete && c.Status == corev1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	}); err != nil {
		t.Fatalf("job not complete: %v", err)
	}
}

// TestTerminatingPodFinishes: a running pod deleted with an hour's grace
// is gone as soon as the kubelet sees its deletion.
func TestTerminatingPodFinishes(t *testing.T) {
	e := New(t)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	pods := e.Client.CoreV1().Pods(e.Namespace)
	spec := podSpec(nil)
	spec.TerminationGracePeriodSeconds = new(int64(3600))
	if _, err := pods.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: spec}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := Poll(ctx, func(ctx context.Context) (bool, error) {
		p, err := pods.Get(ctx, "p", metav1.GetOptions{})
		return err == nil && p.Status.Phase == corev1.PodRunning, err
	}); err != nil {
		t.Fatalf("pod not running: %v", err)
	}
	if err := pods.Delete(ctx, "p", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := Poll(ctx, func(ctx context.Context) (bool, error) {
		_, err := pods.Get(ctx, "p", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	}); err != nil {
		t.Fatalf("terminating pod not finished: %v", err)
	}
}

// TestMissingBinaries runs a test that needs the control plane in a child
// process whose binaries are absent: it skips without CI and fails with
// CI=true.
func TestMissingBinaries(t *testing.T) {
	if os.Getenv("K8STEST_CHILD") == "1" {
		Start(t)
		t.Fatal("Start returned without binaries")
	}
	for _, tt := range []struct {
		ci  string
		out string
	}{
		{"", "--- SKIP"},
		{"true", "--- FAIL"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMissingBinaries$", "-test.v")
		cmd.Env = append(os.Environ(), "K8STEST_CHILD=1", "CI="+tt.ci, EnvBin+"="+t.TempDir())
		out, err := cmd.CombinedOutput()
		if (err != nil) != (tt.ci == "true") || !strings.Contains(string(out), tt.out) || !strings.Contains(string(out), "make k8s-bins") {
			t.Errorf("CI=%q: %v\n%s", tt.ci, err, out)
		}
	}
}

func TestFits(t *testing.T) {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n", Labels: map[string]string{"os": "linux", "zone": "a"}}}
	req := func(terms ...corev1.NodeSelectorTerm) *corev1.Affinity {
		return &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: terms},
		}}
	}
	expr := func(key string, op corev1.NodeSelectorOperator, values ...string) corev1.NodeSelectorRequirement {
		return corev1.NodeSelectorRequirement{Key: key, Operator: op, Values: values}
	}
	for _, tt := range []struct {
		name     string
		selector map[string]string
		affinity *corev1.Affinity
		want     bool
	}{
		{"none", nil, nil, true},
		{"selector", map[string]string{"os": "linux"}, nil, true},
		{"selector other value", map[string]string{"os": "windows"}, nil, false},
		{"selector absent label", map[string]string{"gpu": "yes"}, nil, false},
		{"in", nil, req(corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{expr("zone", corev1.NodeSelectorOpIn, "a", "b")}}), true},
		{"notin", nil, req(corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{expr("zone", corev1.NodeSelectorOpNotIn, "a")}}), false},
		{"exists", nil, req(corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{expr("gpu", corev1.NodeSelectorOpExists)}}), false},
		{"doesnotexist", nil, req(corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{expr("gpu", corev1.NodeSelectorOpDoesNotExist)}}), true},
		{"field name", nil, req(corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{expr("metadata.name", corev1.NodeSelectorOpIn, "n")}}), true},
		{"field other name", nil, req(corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{expr("metadata.name", corev1.NodeSelectorOpIn, "m")}}), false},
		{"second term", nil, req(
			corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{expr("zone", corev1.NodeSelectorOpIn, "b")}},
			corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{expr("os", corev1.NodeSelectorOpIn, "linux")}},
		), true},
		{"unsupported operator", nil, req(corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{expr("zone", corev1.NodeSelectorOpGt, "1")}}), false},
	} {
		pod := &corev1.Pod{Spec: corev1.PodSpec{NodeSelector: tt.selector, Affinity: tt.affinity}}
		if got := fits(pod, node); got != tt.want {
			t.Errorf("%s: fits = %v, want %v", tt.name, got, tt.want)
		}
	}
}
