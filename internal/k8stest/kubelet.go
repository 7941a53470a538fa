package k8stest

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

const (
	// leaseEvery is how often the kubelet renews its lease.
	leaseEvery = 10 * time.Second
	// callTimeout bounds each of the kubelet's API calls.
	callTimeout = 10 * time.Second
	// maxRetries bounds how often one pod is retried after errors.
	maxRetries = 10
)

// kubelet plays the node and the scheduler in process, so that workloads
// become ready without containers: it registers a Ready node, renews its
// lease, binds the pods whose node selector and required node affinity the
// node satisfies (a pod that matches no node stays Pending, marked
// unschedulable as kube-scheduler would), reports bound pods Running and
// Ready (pods that do not restart, such as a Job's, Succeeded), and
// finishes the deletion of terminating pods.
type kubelet struct {
	client kubernetes.Interface
	node   *corev1.Node
	pods   cache.SharedIndexInformer
	queue  workqueue.TypedRateLimitingInterface[string]
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func startKubelet(ctx context.Context, client kubernetes.Interface, name string) (*kubelet, error) {
	k := &kubelet{client: client}
	if err := k.register(ctx, name); err != nil {
		return nil, err
	}
	if err := k.renew(ctx); err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	k.cancel = cancel
	k.queue = workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]())
	factory := informers.NewSharedInformerFactory(client, 0)
	k.pods = factory.Core().V1().Pods().Informer()
	enqueue := func(obj any) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			k.queue.Add(key)
		}
	}
	if _, err := k.pods.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
	}); err != nil {
		k.stop()
		return nil, fmt.Errorf("k8stest: kubelet: %w", err)
	}
	k.wg.Go(func() { k.pods.Run(runCtx.Done()) })
	if !cache.WaitForCacheSync(ctx.Done(), k.pods.HasSynced) {
		k.stop()
		return nil, fmt.Errorf("k8stest: kubelet: pod cache did not sync")
	}
	for range 2 {
		k.wg.Go(func() {
			for k.next(runCtx) {
			}
		})
	}
	k.wg.Go(func() {
		t := time.NewTicker(leaseEvery)
		defer t.Stop()
		for {
			select {
			case <-runCtx.Done():
				return
			case <-t.C:
				_ = k.renew(runCtx) // the next tick tries again
			}
		}
	})
	return k, nil
}

func (k *kubelet) stop() {
	if k.cancel != nil {
		k.cancel()
	}
	if k.queue != nil {
		k.queue.ShutDown()
	}
	k.wg.Wait()
}

// register creates the node with the labels a scheduler and charts look
// at, and a Ready status with capacity.
func (k *kubelet) register(ctx context.Context, name string) error {
	list := corev1.ResourceList{
		corev1.ResourceCPU:              resource.MustParse("16"),
		corev1.ResourceMemory:           resource.MustParse("64Gi"),
		corev1.ResourcePods:             resource.MustParse("250"),
		corev1.ResourceEphemeralStorage: resource.MustParse("100Gi"),
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: name,
			Labels: map[string]string{
				"kubernetes.io/hostname": name,
				"kubernetes.io/os":       runtime.GOOS,
				"kubernetes.io/arch":     runtime.GOARCH,
			},
		},
	}
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	node, err := k.client.CoreV1().Nodes().Create(cctx, node, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("k8stest: register node %s: %w", name, err)
	}
	node.Status = corev1.NodeStatus{
		Capacity:    list,
		Allocatable: list,
		Phase:       corev1.NodeRunning,
		Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: "127.0.0.1"},
			{Type: corev1.NodeHostName, Address: name},
		},
		NodeInfo: corev1.NodeSystemInfo{
			OperatingSystem: runtime.GOOS, Architecture: runtime.GOARCH,
			KubeletVersion: "v1.37.2", ContainerRuntimeVersion: "fake://0",
		},
	}
	node.Status.Conditions = nodeConditions(metav1.Now())
	if node, err = k.client.CoreV1().Nodes().UpdateStatus(cctx, node, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("k8stest: node %s status: %w", name, err)
	}
	k.node = node
	return nil
}

func nodeConditions(now metav1.Time) []corev1.NodeCondition {
	cond := func(t corev1.NodeConditionType, s corev1.ConditionStatus, reason string) corev1.NodeCondition {
		return corev1.NodeCondition{Type: t, Status: s, Reason: reason, LastHeartbeatTime: now, LastTransitionTime: now}
	}
	return []corev1.NodeCondition{
		cond(corev1.NodeReady, corev1.ConditionTrue, "KubeletReady"),
		cond(corev1.NodeMemoryPressure, corev1.ConditionFalse, "KubeletHasSufficientMemory"),
		cond(corev1.NodeDiskPressure, corev1.ConditionFalse, "KubeletHasNoDiskPressure"),
		cond(corev1.NodePIDPressure, corev1.ConditionFalse, "KubeletHasSufficientPID"),
	}
}

// renew creates or renews the node's lease in kube-node-lease, which the
// API server makes shortly after it is ready.
func (k *kubelet) renew(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	leases := k.client.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	now := metav1.NewMicroTime(time.Now())
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		lease, err := leases.Get(ctx, k.node.Name, metav1.GetOptions{})
		switch {
		case err == nil:
			lease.Spec.RenewTime = &now
			_, err = leases.Update(ctx, lease, metav1.UpdateOptions{})
		case apierrors.IsNotFound(err):
			_, err = leases.Create(ctx, &coordinationv1.Lease{
				ObjectMeta: metav1.ObjectMeta{
					Name: k.node.Name, Namespace: corev1.NamespaceNodeLease,
					OwnerReferences: []metav1.OwnerReference{{
						APIVersion: "v1", Kind: "Node", Name: k.node.Name, UID: k.node.UID,
					}},
				},
				Spec: coordinationv1.LeaseSpec{
					HolderIdentity:       &k.node.Name,
					LeaseDurationSeconds: new(int32(40)),
					RenewTime:            &now,
				},
			}, metav1.CreateOptions{})
		}
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("k8stest: lease of node %s: %w", k.node.Name, err)
		case <-tick.C:
		}
	}
}

// next handles one queued pod; it reports false once the queue is shut down.
func (k *kubelet) next(ctx context.Context) bool {
	key, shutdown := k.queue.Get()
	if shutdown {
		return false
	}
	defer k.queue.Done(key)
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	if err := k.sync(cctx, key); err != nil && ctx.Err() == nil && k.queue.NumRequeues(key) < maxRetries {
		k.queue.AddRateLimited(key)
		return true
	}
	k.queue.Forget(key)
	return true
}

func (k *kubelet) sync(ctx context.Context, key string) error {
	obj, exists, err := k.pods.GetIndexer().GetByKey(key)
	if err != nil || !exists {
		return err
	}
	pod := obj.(*corev1.Pod)
	pods := k.client.CoreV1().Pods(pod.Namespace)
	switch {
	case pod.DeletionTimestamp != nil:
		if pod.Spec.NodeName != k.node.Name {
			return nil
		}
		err := pods.Delete(ctx, pod.Name, metav1.DeleteOptions{
			GracePeriodSeconds: new(int64(0)),
			Preconditions:      &metav1.Preconditions{UID: &pod.UID},
		})
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			return nil
		}
		return err
	case pod.Spec.NodeName == "":
		if pod.Spec.SchedulerName != corev1.DefaultSchedulerName {
			return nil
		}
		if !fits(pod, k.node) {
			return k.unschedulable(ctx, pod)
		}
		err := pods.Bind(ctx, &corev1.Binding{
			ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace, UID: pod.UID},
			Target:     corev1.ObjectReference{Kind: "Node", Name: k.node.Name},
		}, metav1.CreateOptions{})
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			return nil // gone, or bound meanwhile: the informer brings it back
		}
		return err
	case pod.Spec.NodeName == k.node.Name:
		status, changed := runStatus(pod)
		if !changed {
			return nil
		}
		pod = pod.DeepCopy()
		pod.Status = *status
		_, err := pods.UpdateStatus(ctx, pod, metav1.UpdateOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	}
	return nil
}

// unschedulable marks a pod that fits no node as kube-scheduler does, so
// that whoever waits for it can say why.
func (k *kubelet) unschedulable(ctx context.Context, pod *corev1.Pod) error {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
			return nil
		}
	}
	pod = pod.DeepCopy()
	pod.Status.Conditions = append(pod.Status.Conditions, corev1.PodCondition{
		Type:               corev1.PodScheduled,
		Status:             corev1.ConditionFalse,
		Reason:             corev1.PodReasonUnschedulable,
		Message:            "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector.",
		LastTransitionTime: metav1.Now(),
	})
	_, err := k.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, pod, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// runStatus is the status of a pod whose containers all started (and,
// for a pod that does not restart, all exited 0), and whether it differs
// from the pod's.
func runStatus(pod *corev1.Pod) (*corev1.PodStatus, bool) {
	done := pod.Spec.RestartPolicy == corev1.RestartPolicyNever || pod.Spec.RestartPolicy == corev1.RestartPolicyOnFailure
	phase := corev1.PodRunning
	if done {
		phase = corev1.PodSucceeded
	}
	if pod.Status.Phase == phase || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return nil, false
	}
	now := metav1.Now()
	ready := corev1.ConditionTrue
	if done {
		ready = corev1.ConditionFalse
	}
	st := pod.Status.DeepCopy()
	st.Phase = phase
	st.HostIP, st.PodIP = "127.0.0.1", "127.0.0.1"
	st.HostIPs = []corev1.HostIP{{IP: "127.0.0.1"}}
	st.PodIPs = []corev1.PodIP{{IP: "127.0.0.1"}}
	if st.StartTime == nil {
		st.StartTime = &now
	}
	completed := &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed", StartedAt: now, FinishedAt: now}
	status := func(c corev1.Container, state corev1.ContainerState, ready bool) corev1.ContainerStatus {
		return corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, ImageID: c.Image,
			ContainerID: "fake://" + string(pod.UID) + "/" + c.Name,
			State:       state, Ready: ready, Started: new(state.Running != nil),
		}
	}
	st.InitContainerStatuses = nil
	for _, c := range pod.Spec.InitContainers {
		st.InitContainerStatuses = append(st.InitContainerStatuses, status(c, corev1.ContainerState{Terminated: completed}, true))
	}
	st.ContainerStatuses = nil
	for _, c := range pod.Spec.Containers {
		state := corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}
		if done {
			state = corev1.ContainerState{Terminated: completed}
		}
		st.ContainerStatuses = append(st.ContainerStatuses, status(c, state, !done))
	}
	reason := ""
	if done {
		reason = "PodCompleted"
	}
	st.Conditions = slices.DeleteFunc(st.Conditions, func(c corev1.PodCondition) bool {
		return c.Type == corev1.PodScheduled || c.Type == corev1.PodInitialized ||
			c.Type == corev1.ContainersReady || c.Type == corev1.PodReady || c.Type == corev1.PodReadyToStartContainers
	})
	cond := func(t corev1.PodConditionType, s corev1.ConditionStatus, reason string) corev1.PodCondition {
		return corev1.PodCondition{Type: t, Status: s, Reason: reason, LastTransitionTime: now}
	}
	st.Conditions = append(st.Conditions,
		cond(corev1.PodScheduled, corev1.ConditionTrue, ""),
		cond(corev1.PodReadyToStartContainers, corev1.ConditionTrue, ""),
		cond(corev1.PodInitialized, corev1.ConditionTrue, reason),
		cond(corev1.ContainersReady, ready, reason),
		cond(corev1.PodReady, ready, reason),
	)
	return st, true
}

// fits reports whether node satisfies pod's node selector and required
// node affinity (the operators In, NotIn, Exists and DoesNotExist on
// labels, and In and NotIn on the field metadata.name, as DaemonSets use).
func fits(pod *corev1.Pod, node *corev1.Node) bool {
	for k, v := range pod.Spec.NodeSelector {
		if got, ok := node.Labels[k]; !ok || got != v {
			return false
		}
	}
	aff := pod.Spec.Affinity
	if aff == nil || aff.NodeAffinity == nil || aff.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return true
	}
	match := func(reqs []corev1.NodeSelectorRequirement, value func(string) (string, bool)) bool {
		for _, r := range reqs {
			v, ok := value(r.Key)
			switch r.Operator {
			case corev1.NodeSelectorOpIn:
				if !ok || !slices.Contains(r.Values, v) {
					return false
				}
			case corev1.NodeSelectorOpNotIn:
				if ok && slices.Contains(r.Values, v) {
					return false
				}
			case corev1.NodeSelectorOpExists:
				if !ok {
					return false
				}
			case corev1.NodeSelectorOpDoesNotExist:
				if ok {
					return false
				}
			default:
				return false
			}
		}
		return true
	}
	label := func(k string) (string, bool) { v, ok := node.Labels[k]; return v, ok }
	field := func(k string) (string, bool) { return node.Name, k == "metadata.name" }
	for _, term := range aff.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		if len(term.MatchExpressions)+len(term.MatchFields) > 0 &&
			match(term.MatchExpressions, label) && match(term.MatchFields, field) {
			return true
		}
	}
	return false
}
