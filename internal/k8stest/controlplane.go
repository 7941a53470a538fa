package k8stest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Bounds of the start: a loaded machine of two shared cores has been seen
// to need tens of seconds where an idle one needs a few.
const (
	startTimeout = 3 * time.Minute
	stopTimeout  = 15 * time.Second
)

// ControlPlane is a running etcd, kube-apiserver and kube-controller-manager
// on loopback, with a fake kubelet for one node.
type ControlPlane struct {
	// Kubeconfig is a kubeconfig file for an administrator (system:masters),
	// with one context, Context.
	Kubeconfig string
	Context    string
	// Config and Client are the same administrator's, for tests in process.
	Config *rest.Config
	Client kubernetes.Interface
	// Node is the name of the one node, whose kubelet is fake.
	Node string
	// Started is how long the start took, until every part was ready.
	Started time.Duration

	dir     string
	procs   []*proc
	kubelet *kubelet
}

// proc is a child process in a process group of its own, so that stop
// reaches whatever it started too.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

// start starts the control plane from the binaries in bin; on failure it
// stops what it had started and says, with the logs' tails, why.
func start(bin string) (cp *ControlPlane, err error) {
	begin := time.Now()
	dir, err := os.MkdirTemp("", "ferry-k8s-")
	if err != nil {
		return nil, fmt.Errorf("k8stest: %w", err)
	}
	cp = &ControlPlane{dir: dir, Context: "ferry-test", Node: "ferry-test-node"}
	defer func() {
		if err != nil {
			err = fmt.Errorf("%w%s", err, cp.logTails())
			cp.Stop()
			cp = nil
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()

	p, err := newPKI(dir)
	if err != nil {
		return cp, err
	}
	ports, err := freePorts(3)
	if err != nil {
		return cp, err
	}
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(ports[0])
	peerURL := "http://127.0.0.1:" + strconv.Itoa(ports[1])
	apiURL := "https://127.0.0.1:" + strconv.Itoa(ports[2])

	if err := cp.run("etcd", filepath.Join(bin, "etcd"),
		"--name=default",
		"--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls="+etcdURL,
		"--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL,
		"--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=default="+peerURL,
		"--log-level=warn",
		// A test's data dies with the test: no fsync.
		"--unsafe-no-fsync",
	); err != nil {
		return cp, err
	}
	if err := cp.wait(ctx, "etcd", func(ctx context.Context) error {
		return httpOK(ctx, etcdURL+"/health")
	}); err != nil {
		return cp, err
	}

	if err := cp.run("kube-apiserver", filepath.Join(bin, "kube-apiserver"),
		"--etcd-servers="+etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(ports[2]),
		"--tls-cert-file="+p.serverCert,
		"--tls-private-key-file="+p.serverKey,
		"--client-ca-file="+p.caFile,
		"--cert-dir="+filepath.Join(dir, "apiserver"),
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file="+p.saPub,
		"--service-account-signing-key-file="+p.saKey,
		"--service-cluster-ip-range=10.0.0.0/24",
		"--authorization-mode=RBAC",
		// On loopback there is no address for the kubernetes service's
		// endpoints to point at.
		"--endpoint-reconciler-type=none",
		"--allow-privileged=true",
		"--v=0",
	); err != nil {
		return cp, err
	}
	if err := cp.writeKubeconfig(apiURL, p); err != nil {
		return cp, err
	}
	if err := cp.wait(ctx, "kube-apiserver", func(ctx context.Context) error {
		_, err := cp.Client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err
	}); err != nil {
		return cp, err
	}

	if err := cp.run("kube-controller-manager", filepath.Join(bin, "kube-controller-manager"),
		"--kubeconfig="+cp.Kubeconfig,
		"--authentication-kubeconfig="+cp.Kubeconfig,
		"--authorization-kubeconfig="+cp.Kubeconfig,
		"--bind-address=127.0.0.1",
		"--secure-port=0",
		"--leader-elect=false",
		"--service-account-private-key-file="+p.saKey,
		"--root-ca-file="+p.caFile,
		"--controllers=deployment-controller,replicaset-controller,job-controller,cronjob-controller,"+
			"statefulset-controller,daemonset-controller,serviceaccount-controller,serviceaccount-token-controller,"+
			"garbage-collector-controller,namespace-controller",
		"--v=0",
	); err != nil {
		return cp, err
	}
	// The service-account controller creating the default namespace's
	// account shows the controller manager is at work.
	if err := cp.wait(ctx, "kube-controller-manager", func(ctx context.Context) error {
		_, err := cp.Client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return err
	}); err != nil {
		return cp, err
	}

	if cp.kubelet, err = startKubelet(ctx, cp.Client, cp.Node); err != nil {
		return cp, err
	}
	cp.Started = time.Since(begin)
	return cp, nil
}

func (cp *ControlPlane) writeKubeconfig(server string, p *pki) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[cp.Context] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: p.caPEM}
	cfg.AuthInfos[cp.Context] = &clientcmdapi.AuthInfo{ClientCertificateData: p.adminCert, ClientKeyData: p.adminKey}
	cfg.Contexts[cp.Context] = &clientcmdapi.Context{Cluster: cp.Context, AuthInfo: cp.Context, Namespace: "default"}
	cfg.CurrentContext = cp.Context
	cp.Kubeconfig = filepath.Join(cp.dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, cp.Kubeconfig); err != nil {
		return fmt.Errorf("k8stest: kubeconfig: %w", err)
	}
	cp.Config = &rest.Config{
		Host: server,
		TLSClientConfig: rest.TLSClientConfig{
			CAData: p.caPEM, CertData: p.adminCert, KeyData: p.adminKey,
		},
		QPS: 100, Burst: 200,
		Timeout: 30 * time.Second,
	}
	c, err := kubernetes.NewForConfig(cp.Config)
	if err != nil {
		return fmt.Errorf("k8stest: client: %w", err)
	}
	cp.Client = c
	return nil
}

// run starts one child with its output in a log file of the temporary
// directory.
func (cp *ControlPlane) run(name, bin string, args ...string) error {
	log := filepath.Join(cp.dir, name+".log")
	f, err := os.Create(log)
	if err != nil {
		return fmt.Errorf("k8stest: %w", err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = cp.dir
	cmd.Stdout, cmd.Stderr = f, f
	// Pdeathsig: a test binary killed by its timeout takes its children along.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("k8stest: start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: log, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	cp.procs = append(cp.procs, p)
	return nil
}

// wait polls ready until it succeeds, a child exits, or ctx ends.
func (cp *ControlPlane) wait(ctx context.Context, what string, ready func(context.Context) error) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, p := range cp.procs {
			select {
			case <-p.done:
				return fmt.Errorf("k8stest: %s exited while waiting for %s: %w", p.name, what, p.err)
			default:
			}
		}
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := ready(cctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("k8stest: %s not ready within %v: %w", what, startTimeout, err)
		case <-tick.C:
		}
	}
}

// Stop stops the fake kubelet and the children in the reverse order of
// their start, each by its process group (SIGTERM, then SIGKILL after
// stopTimeout), and removes the temporary directory.
func (cp *ControlPlane) Stop() {
	if cp.kubelet != nil {
		cp.kubelet.stop()
	}
	for i := len(cp.procs) - 1; i >= 0; i-- {
		p := cp.procs[i]
		pgid := p.cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(stopTimeout):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			select {
			case <-p.done:
			case <-time.After(stopTimeout):
			}
		}
	}
	cp.procs = nil
	_ = os.RemoveAll(cp.dir)
}

// logTails is the end of every child's log, for a failed start.
func (cp *ControlPlane) logTails() string {
	var b bytes.Buffer
	for _, p := range cp.procs {
		data, _ := os.ReadFile(p.log)
		if len(data) > 3000 {
			data = data[len(data)-3000:]
		}
		fmt.Fprintf(&b, "\n--- %s log (end) ---\n%s", p.name, data)
	}
	return b.String()
}

// freePorts returns n distinct free loopback ports, holding all n open at
// once so that none is returned twice.
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("k8stest: free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func httpOK(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errors.New(resp.Status)
	}
	return nil
}
