package e2e

import (
	"context"
	"crypto/x509/pkix"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	certutil "k8s.io/client-go/util/cert"

	"kcsr.dev/kcsr/pkg/csr"
	kcsrclient "kcsr.dev/kcsr/pkg/generated/clientset/versioned"
	"kcsr.dev/kcsr/pkg/testkit"
	"kcsr.dev/kcsr/test/e2e/framework"
)

// TestIssuedInOneWrite: a CSR a rule approves (here the kubelet's bootstrap, nodeclient) is
// stored once, Approved and issued, with its inventory record in the same etcd
// transaction: the create's response holds the certificate and a watcher sees one ADDED
// event and nothing after it. A person's approval comes back with
// the certificate too. Both are in the inventory, named after the CSR's UID; a dry run
// decides, signs and records nothing.
func TestIssuedInOneWrite(t *testing.T) {
	s := framework.StartServer(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	adminConfig, err := clientcmd.BuildConfigFromFlags("", s.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	admin := kubernetes.NewForConfigOrDie(adminConfig)
	records := kcsrclient.NewForConfigOrDie(adminConfig).KcsrV1alpha1().IssuedCertificates()
	r := framework.Kcsr(t, s.Kubeconfig, "token", "create", "--bootstrap", "--ttl", "1h")
	if r.ExitCode != 0 {
		t.Fatalf("kcsr token create --bootstrap: %s", r.Combined())
	}
	bootstrap := kubernetes.NewForConfigOrDie(&rest.Config{Host: s.URL, BearerToken: strings.TrimSpace(r.Stdout),
		TLSClientConfig: rest.TLSClientConfig{CAFile: filepath.Join(s.DataDir, "pki", "ca.crt")}})

	nodeCSR := func(name string) *certificatesv1.CertificateSigningRequest {
		key := testkit.NewKey(t, testkit.P256)
		request, err := certutil.MakeCSR(key, &pkix.Name{CommonName: "system:node:node-1", Organization: []string{"system:nodes"}}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		return &certificatesv1.CertificateSigningRequest{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: certificatesv1.CertificateSigningRequestSpec{
				Request:    request,
				SignerName: certificatesv1.KubeAPIServerClientKubeletSignerName,
				Usages:     []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth},
			},
		}
	}

	t.Run("rule-approved: one write", func(t *testing.T) {
		w, err := admin.CertificatesV1().CertificateSigningRequests().Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=node-csr-1"})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		created, err := bootstrap.CertificatesV1().CertificateSigningRequests().Create(ctx, nodeCSR("node-csr-1"), metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		approved := csr.Condition(created, certificatesv1.CertificateApproved)
		if approved == nil || approved.Reason != "AutoApproved" || len(created.Status.Certificate) == 0 {
			t.Fatalf("the create's response is not Approved (AutoApproved) and issued: conditions %+v, certificate %d bytes", created.Status.Conditions, len(created.Status.Certificate))
		}
		// Every event for the CSR within two seconds: one ADDED, already issued.
		var events []watch.EventType
		timeout := time.After(2 * time.Second)
	collect:
		for {
			select {
			case e := <-w.ResultChan():
				events = append(events, e.Type)
				if obj, ok := e.Object.(*certificatesv1.CertificateSigningRequest); ok && e.Type == watch.Added && len(obj.Status.Certificate) == 0 {
					t.Errorf("the ADDED event carries no certificate")
				}
			case <-timeout:
				break collect
			}
		}
		if len(events) != 1 || events[0] != watch.Added {
			t.Errorf("watch events = %v, want exactly [ADDED]", events)
		}
		record, err := records.Get(ctx, string(created.UID), metav1.GetOptions{})
		if err != nil {
			t.Fatalf("no inventory record named after the CSR's UID: %v", err)
		}
		if string(record.Spec.Certificate) != string(created.Status.Certificate) {
			t.Errorf("the record and the CSR hold different certificates")
		}
		// Created as any record is: a UID and a creation time of its own.
		if record.UID == "" || record.UID == created.UID || record.CreationTimestamp.IsZero() {
			t.Errorf("the record lacks the system fields of a create: uid %q, creationTimestamp %v", record.UID, record.CreationTimestamp)
		}
		// One etcd transaction: both objects carry its revision.
		if record.ResourceVersion != created.ResourceVersion {
			t.Errorf("the record (resourceVersion %s) and the CSR (%s) were not written in one transaction", record.ResourceVersion, created.ResourceVersion)
		}
	})

	t.Run("approval: the response holds the certificate", func(t *testing.T) {
		dir := t.TempDir()
		request := framework.GoCSR(t, dir, "alice", "alice", []string{"dev"}, nil, nil)
		framework.MustKubectl(t, s.Kubeconfig, "create", "-f", framework.WriteFile(t, dir, "alice.yaml", framework.CSRManifest("alice", request, clientSigner, 3600, "client auth")))
		pending, err := admin.CertificatesV1().CertificateSigningRequests().Get(ctx, "alice", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(pending.Status.Conditions) != 0 {
			t.Fatalf("an admin's client CSR was decided by a rule: %+v", pending.Status.Conditions)
		}
		pending.Status.Conditions = append(pending.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
			Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: "E2E", Message: "approved by the test",
		})
		approved, err := admin.CertificatesV1().CertificateSigningRequests().UpdateApproval(ctx, "alice", pending, metav1.UpdateOptions{})
		if err != nil {
			t.Fatalf("approve: %v", err)
		}
		if len(approved.Status.Certificate) == 0 {
			t.Fatalf("the approval's response holds no certificate: %+v", approved.Status)
		}
		record, err := records.Get(ctx, string(approved.UID), metav1.GetOptions{})
		if err != nil {
			t.Fatalf("no inventory record for the approved CSR: %v", err)
		}
		if record.ResourceVersion != approved.ResourceVersion || string(record.Spec.Certificate) != string(approved.Status.Certificate) {
			t.Errorf("the record (resourceVersion %s) and the approval (%s) were not written in one transaction, or differ", record.ResourceVersion, approved.ResourceVersion)
		}
		// kubectl sees it issued at once.
		if got := framework.MustKubectl(t, s.Kubeconfig, "get", "csr", "alice", "-o", "jsonpath={.status.conditions[*].type}"); got != "Approved" {
			t.Errorf("conditions = %q, want Approved", got)
		}
	})

	t.Run("concurrent approvals issue once", func(t *testing.T) {
		// Three approvers race on each of five CSRs: every approval's write is retried on
		// conflict, and exactly one certificate is issued and recorded for each.
		dir := t.TempDir()
		var names []string
		for i := range 5 {
			name := fmt.Sprintf("race-%d", i)
			request := framework.GoCSR(t, dir, name, name, nil, nil, nil)
			framework.MustKubectl(t, s.Kubeconfig, "create", "-f", framework.WriteFile(t, dir, name+".yaml", framework.CSRManifest(name, request, clientSigner, 3600, "client auth")))
			names = append(names, name)
		}
		var wg sync.WaitGroup
		for _, name := range names {
			for range 3 {
				wg.Go(func() { framework.Kubectl(t, s.Kubeconfig, "certificate", "approve", name) })
			}
		}
		wg.Wait()
		for _, name := range names {
			obj, err := admin.CertificatesV1().CertificateSigningRequests().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			record, err := records.Get(ctx, string(obj.UID), metav1.GetOptions{})
			if err != nil || string(record.Spec.Certificate) != string(obj.Status.Certificate) || len(obj.Status.Certificate) == 0 {
				t.Errorf("%s: not issued once with its record (%v)", name, err)
			}
			if got := csr.ConditionString(obj); got != "Approved,Issued" {
				t.Errorf("%s: conditions %s, want Approved,Issued", name, got)
			}
		}
		list, err := records.List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		perCSR := map[string]int{}
		for _, r := range list.Items {
			perCSR[r.Spec.CSRName]++
		}
		for _, name := range names {
			if perCSR[name] != 1 {
				t.Errorf("%s has %d records, want 1", name, perCSR[name])
			}
		}
	})

	t.Run("dry run decides nothing", func(t *testing.T) {
		obj, err := bootstrap.CertificatesV1().CertificateSigningRequests().Create(ctx, nodeCSR("node-csr-dry"), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil {
			t.Fatalf("dry-run create: %v", err)
		}
		if len(obj.Status.Conditions) != 0 || len(obj.Status.Certificate) != 0 {
			t.Errorf("a dry run was decided or signed: %+v", obj.Status)
		}
		if _, err := records.Get(ctx, string(obj.UID), metav1.GetOptions{}); err == nil {
			t.Errorf("a dry run wrote an inventory record")
		}
		if _, err := admin.CertificatesV1().CertificateSigningRequests().Get(ctx, "node-csr-dry", metav1.GetOptions{}); err == nil {
			t.Errorf("a dry run stored the CSR")
		}
	})
}
