// Package request is the onboarding half of the kcsr CLI:
//
//   - `kcsr request`: a private key generated on this machine (never sent), the PKCS#10
//     request, the CertificateSigningRequest, a wait that shows every state change, the
//     issued certificate checked against the key and the cluster CA, then NAME.key,
//     NAME.crt and NAME.kubeconfig;
//   - `kcsr renew`: a new certificate (and key) for the identity of a kubeconfig's client
//     certificate, requested with that certificate, and the kubeconfig rewritten; with
//     --watch it renews at a random point between 70 % and 90 % of each certificate's
//     lifetime, as the kubelet rotates its certificates;
//   - `kcsr kubeconfig`: a kubeconfig assembled from a key, its certificate and a CA.
//
// Nothing is written before a certificate is issued and verified; then every file is
// written atomically, and a set of files either appears whole or not at all, so an
// interrupt, a timeout, a denial or a failure leaves nothing half-written.
//
// It talks to any Kubernetes-compatible API through client-go and owns no server state:
// approving, signing and policies belong to the server and to other packages.
package request
