package e2e

import (
	"testing"
	"time"

	"kcsr.dev/kcsr/test/e2e/framework"
)

// testRBACEscalation: RBAC's escalation prevention as in Kubernetes. A user who may create
// ClusterRoles and ClusterRoleBindings can only grant what she already holds, unless she
// has `escalate` on clusterroles (for roles) or `bind` on the role (for bindings).
func testRBACEscalation(t *testing.T, cp *controlPlane) {
	dir := t.TempDir()
	eve := cp.newCertUser(t, dir, "eve", "/CN=eve/O=dev")
	framework.MustKubectl(t, cp.admin, "create", "clusterrole", "rbac-writer", "--verb", "create",
		"--resource", "clusterroles.rbac.authorization.k8s.io,clusterrolebindings.rbac.authorization.k8s.io")
	framework.MustKubectl(t, cp.admin, "create", "clusterrolebinding", "eve-rbac-writer", "--clusterrole", "rbac-writer", "--user", "eve")
	framework.Eventually(t, 10*time.Second, "eve's binding to take effect", func() bool {
		return canI(t, eve.kubeconfig, "create", "clusterroles") == "yes"
	})

	const notHeld = `is forbidden: user "eve" (groups=["dev" "system:authenticated"]) is attempting to grant RBAC permissions not currently held:`
	everything := clusterRole("eve-everything", `{apiGroups: ["*"], resources: ["*"], verbs: ["*"]}`)
	adminBinding := clusterRoleBinding("eve-admin", "cluster-admin", "eve")

	cases := []struct {
		name, manifest, want string
	}{
		{"role granting everything", everything,
			`clusterroles.rbac.authorization.k8s.io "eve-everything" ` + notHeld + "\n" +
				`{APIGroups:["*"], Resources:["*"], Verbs:["*"]}`},
		{"role granting one verb she lacks", clusterRole("eve-csr-reader", `{apiGroups: ["certificates.k8s.io"], resources: ["certificatesigningrequests"], verbs: ["get"]}`),
			`clusterroles.rbac.authorization.k8s.io "eve-csr-reader" ` + notHeld + "\n" +
				`{APIGroups:["certificates.k8s.io"], Resources:["certificatesigningrequests"], Verbs:["get"]}`},
		{"role granting what she holds", clusterRole("eve-subset", `{apiGroups: ["rbac.authorization.k8s.io"], resources: ["clusterroles"], verbs: ["create"]}`),
			""},
		{"binding cluster-admin to herself", adminBinding,
			`clusterrolebindings.rbac.authorization.k8s.io "eve-admin" ` + notHeld + "\n" +
				`{APIGroups:["*"], Resources:["*"], Verbs:["*"]}` + "\n" +
				`{NonResourceURLs:["*"], Verbs:["*"]}`},
		{"binding a role whose rights she holds", clusterRoleBinding("eve-subset", "eve-subset", "eve"),
			""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := framework.WriteFile(t, dir, "manifest.yaml", tc.manifest)
			r := framework.Kubectl(t, eve.kubeconfig, "create", "-f", path)
			if tc.want == "" {
				if r.ExitCode != 0 {
					t.Errorf("create: exit %d, want success\n%s", r.ExitCode, r.Combined())
				}
				return
			}
			wantStderr(t, "create", r, `Error from server (Forbidden): error when creating "`+path+`": `+tc.want)
		})
	}
	if got := canI(t, eve.kubeconfig, "get", "certificatesigningrequests"); got != "no" {
		t.Fatalf("after the refused escalations eve can-i get certificatesigningrequests = %q, want no", got)
	}

	// `escalate` on clusterroles lifts the check for roles; `bind` on a named role lifts it
	// for bindings to that role.
	framework.MustKubectl(t, cp.admin, "create", "clusterrole", "rbac-escalator", "--verb", "escalate", "--resource", "clusterroles.rbac.authorization.k8s.io")
	framework.MustKubectl(t, cp.admin, "create", "clusterrole", "cluster-admin-binder", "--verb", "bind", "--resource", "clusterroles.rbac.authorization.k8s.io", "--resource-name", "cluster-admin")
	framework.MustKubectl(t, cp.admin, "create", "clusterrolebinding", "eve-rbac-escalator", "--clusterrole", "rbac-escalator", "--user", "eve")
	framework.MustKubectl(t, cp.admin, "create", "clusterrolebinding", "eve-cluster-admin-binder", "--clusterrole", "cluster-admin-binder", "--user", "eve")
	framework.Eventually(t, 10*time.Second, "eve's escalate and bind grants to take effect", func() bool {
		return canI(t, eve.kubeconfig, "bind", "clusterroles/cluster-admin") == "yes" && canI(t, eve.kubeconfig, "escalate", "clusterroles") == "yes"
	})
	t.Run("with escalate", func(t *testing.T) {
		r := framework.Kubectl(t, eve.kubeconfig, "create", "-f", framework.WriteFile(t, dir, "everything.yaml", everything))
		wantStdout(t, "create eve-everything", r, "clusterrole.rbac.authorization.k8s.io/eve-everything created")
	})
	t.Run("with bind", func(t *testing.T) {
		r := framework.Kubectl(t, eve.kubeconfig, "create", "-f", framework.WriteFile(t, dir, "admin-binding.yaml", adminBinding))
		wantStdout(t, "create eve-admin", r, "clusterrolebinding.rbac.authorization.k8s.io/eve-admin created")
		framework.Eventually(t, 10*time.Second, "eve to be cluster-admin", func() bool {
			return canI(t, eve.kubeconfig, "*", "*") == "yes"
		})
	})
}

func clusterRole(name, rule string) string {
	return "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: " + name + "\nrules:\n- " + rule + "\n"
}

func clusterRoleBinding(name, role, user string) string {
	return "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: " + name +
		"\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: " + role +
		"\nsubjects:\n- apiGroup: rbac.authorization.k8s.io\n  kind: User\n  name: " + user + "\n"
}
