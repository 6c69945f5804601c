// Package v1alpha1 is kcsr's own API group, kcsr.dev/v1alpha1: the objects Kubernetes has
// no type for. IssuedCertificate is the inventory of every certificate a kcsr signer issued;
// it outlives the CSR it came from.
//
// +k8s:deepcopy-gen=package
// +k8s:openapi-gen=true
// +groupName=kcsr.dev
package v1alpha1
